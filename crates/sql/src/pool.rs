//! How the stores' connection pools behave toward a database that may go away.

use std::time::Duration;

/// Pool settings both stores take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Connections per instance.
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503: short, so a
    /// database that went away costs clients about a second, not ten.
    pub acquire_timeout: Duration,
    /// A pooled connection idle for longer is pinged before it is handed out, so one that
    /// died while idle (the database restarted) is replaced instead of failing a request.
    /// Connections in steady use skip the ping (the round trip docs/benchmarks.md saves).
    pub idle_ping_after: Duration,
    /// PostgreSQL cancels a statement running longer (`statement_timeout`), so a request
    /// stuck on the database — a commit waiting for a synchronous standby that is gone —
    /// is answered 503 rather than held. `None` (or zero): no limit. SQLite ignores it.
    pub statement_timeout: Option<Duration>,
}

impl PoolConfig {
    /// The defaults: 16 connections, a 1 s acquire timeout, a ping after 1 s idle, no
    /// statement timeout (the binary sets `db_statement_timeout`, 10 s by default).
    pub const DEFAULT: Self = Self {
        max_connections: 16,
        acquire_timeout: Duration::from_secs(1),
        idle_ping_after: Duration::from_secs(1),
        statement_timeout: None,
    };
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
