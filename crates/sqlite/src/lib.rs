//! SQLite storage adapter: the embedded default. One file, WAL journal, foreign keys on,
//! write transactions opened with `BEGIN IMMEDIATE` so concurrent writers queue for the
//! lock (up to the busy timeout) instead of failing.
//!
//! The store itself is `accountd_sql::sqlite`, compiled from the SQL both databases share
//! with SQLite's dialect; this crate is its public face: the names the application and the
//! tests use, and the conformance run.

pub use accountd_sql::PoolConfig;
pub use accountd_sql::sqlite::{DEFAULT_POOL, SqliteStore, SqliteTransaction};
