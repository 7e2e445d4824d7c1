//! alur-core
