//! PostgreSQL storage adapter, for production and for any number of accountd instances
//! sharing one database.
//!
//! The store itself is `accountd_sql::postgres`, compiled from the SQL both databases share
//! with PostgreSQL's dialect; this crate is its public face: the names the application and
//! the tests use, the driver's build features (TLS), test support and the conformance run.

#[cfg(feature = "testing")]
pub mod testing;

pub use accountd_sql::PoolConfig;
pub use accountd_sql::postgres::{
    InvalidDatabaseUrl, NoMatchingHost, PgStore, PgTransaction, TargetSessionAttrs, Topology,
};

/// Connections per instance unless the operator says otherwise: enough to keep a few
/// cores busy, few enough that many instances fit under PostgreSQL's `max_connections`.
pub const DEFAULT_POOL_SIZE: u32 = PoolConfig::DEFAULT.max_connections;
