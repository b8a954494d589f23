//! How a PostgreSQL pool follows its database across a failover, for a `database_url` that
//! names several hosts or a `target_session_attrs` ([`crate::hosts`]).
//!
//! sqlx's pool opens every connection with one set of options, so the pool is pointed at
//! one host at a time, the one [`Topology::select`] found, and three things move it:
//!
//! - every new connection asks its server's role (`after_connect`); one of the wrong role —
//!   the old primary, back as a standby — is refused, and wakes the supervisor;
//! - a supervisor task checks the current host's role through the pool twice a second, and
//!   when that fails or finds the wrong role, probes every host in order and points the pool
//!   at the first that matches ([`sqlx::Pool::set_connect_options`]);
//! - after a switch, a pooled connection older than the switch is closed instead of being
//!   handed out (`before_acquire`), so no request runs on the old host.
//!
//! Meanwhile a request that cannot get a connection of the right role fails once the pool's
//! acquire timeout has passed, as `PoolTimedOut`, which the store marks unavailable (503 /
//! UNAVAILABLE); one whose connection broke fails at once, the same way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use accountd_domain::ChangeHub;
use sqlx::postgres::{PgConnection, PgPool};
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::hosts::{Role, Topology};

/// How often the supervisor checks the current host's role while all is well.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long that check may take before the host counts as lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The state a failover-aware pool and its supervisor share.
#[derive(Debug)]
pub(crate) struct Failover {
    topology: Topology,
    /// The index in the topology of the host the pool connects to.
    current: AtomicUsize,
    /// When the pool was last pointed at another host.
    switched_at: Mutex<Option<Instant>>,
    /// Wakes the supervisor before its next check: a new connection found the wrong role.
    wake: Notify,
}

impl Failover {
    pub(crate) fn new(topology: Topology, current: usize) -> Arc<Self> {
        Arc::new(Failover {
            topology,
            current: AtomicUsize::new(current),
            switched_at: Mutex::new(None),
            wake: Notify::new(),
        })
    }

    /// The check of every new connection: its server must have the role the URL asks for.
    pub(crate) async fn admit(&self, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        let role = Role::of(connection).await?;
        if self.topology.target().admits(role) {
            return Ok(());
        }
        self.wake.notify_one();
        Err(sqlx::Error::Configuration(
            format!(
                "the database server no longer matches target_session_attrs={}; looking for the one that does",
                self.topology.target().name()
            )
            .into(),
        ))
    }

    /// Whether a pooled connection `age` old may still be handed out: not if it was opened
    /// before the pool last switched hosts.
    pub(crate) fn keeps(&self, age: Duration) -> bool {
        let switched_at = *self.switched_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        switched_at.is_none_or(|at| age < at.elapsed())
    }

    /// Starts the supervisor of `pool`, until the store owning `hub` is dropped.
    pub(crate) fn supervise(self: &Arc<Self>, pool: PgPool, hub: Weak<ChangeHub>) {
        let failover = self.clone();
        tokio::spawn(async move {
            let mut warned = false;
            while hub.strong_count() > 0 {
                tokio::select! {
                    () = tokio::time::sleep(CHECK_EVERY) => {}
                    () = failover.wake.notified() => {}
                }
                if failover.current_host_matches(&pool).await {
                    warned = false;
                    continue;
                }
                match failover.topology.select().await {
                    Ok((index, options)) => {
                        let previous = failover.current.swap(index, Ordering::SeqCst);
                        if previous != index {
                            pool.set_connect_options(options);
                            *failover.switched_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                                Some(Instant::now());
                            let host = failover.topology.hosts().nth(index).map(ToString::to_string);
                            info!(host, "the database moved: the pool now connects to this host");
                        }
                        warned = false;
                    }
                    Err(error) if !warned => {
                        warn!(%error, "the database is away; requests are answered 503 until a host matches");
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// Whether a connection from the pool reaches a server of the wanted role.
    async fn current_host_matches(&self, pool: &PgPool) -> bool {
        let check = async {
            let mut connection = pool.acquire().await?;
            Role::of(&mut connection).await
        };
        matches!(tokio::time::timeout(CHECK_TIMEOUT, check).await, Ok(Ok(role)) if self.topology.target().admits(role))
    }
}
