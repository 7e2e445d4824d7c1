//! alur
