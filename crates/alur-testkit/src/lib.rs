//! alur-testkit
