//! How a PostgreSQL store hears the changes other instances commit: a task holding a
//! connection of its own that `LISTEN`s on [`CHANNEL`] and hands every notification's facts
//! to the store's [`ChangeHub`].
//!
//! The cache may be trusted only while every notification is heard, so the task marks the
//! hub [`ChangeHub::lost`] as soon as it may have missed one — the connection failed, or
//! nothing arrived for [`SILENCE`] although each instance sends a heartbeat every
//! [`HEARTBEAT_EVERY`] (a connection can die without an error, behind a broken network) —
//! and [`ChangeHub::restored`] once it listens again. It ends when the store is dropped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use accountd_domain::ChangeHub;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::announce::{CHANNEL, HEARTBEAT, decode};

/// How often each instance proves its notifications still arrive.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);

/// With no notification (heartbeats included) for this long, the listener counts as lost.
pub(crate) const SILENCE: Duration = Duration::from_millis(1000);

/// How long connecting the listener may take before it is tried again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The `application_name` of the listening connection of the store whose hub is `origin`,
/// so operators (and tests) can tell it in `pg_stat_activity`.
pub(crate) fn application_name(origin: u128) -> String {
    format!("accountd-listener-{origin:032x}")
}

/// Starts listening for `pool`'s database on behalf of `hub`, until the hub is dropped.
pub(crate) fn spawn(pool: PgPool, hub: &Arc<ChangeHub>) {
    let name = application_name(hub.origin());
    let hub = Arc::downgrade(hub);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        while hub.strong_count() > 0 {
            let started = Instant::now();
            let outcome = listen(&pool, &name, &hub).await;
            let Some(live) = hub.upgrade() else { return };
            live.lost();
            drop(live);
            match outcome {
                Ok(()) => return,
                Err(error) => {
                    warn!(error = %format!("{error:#}"), "not hearing other instances' changes: the decision cache is off until the listener is back")
                }
            }
            // A listener that ran for a while starts over quickly; one failing at once backs off.
            backoff = if started.elapsed() > Duration::from_secs(5) {
                Duration::from_millis(50)
            } else {
                (backoff * 2).min(Duration::from_secs(2))
            };
            tokio::time::sleep(backoff).await;
        }
    });
}

/// Listens until the hub is dropped (`Ok`) or a notification may have been missed (`Err`).
async fn listen(pool: &PgPool, name: &str, hub: &Weak<ChangeHub>) -> anyhow::Result<()> {
    // A pool of its own (one connection, never handed to requests), made anew for every
    // attempt: a connection that died silently may hang its clean-up, and must not hold up
    // the next one.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with((*pool.connect_options()).clone().application_name(name))
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;

    // The receiving runs on a task of its own that is never cancelled mid-message; when
    // the connection fails, it ends and the channel closes.
    let (heard, mut hearing) = mpsc::unbounded_channel::<String>();
    let receiver = tokio::spawn(async move {
        while let Ok(Some(notification)) = listener.try_recv().await {
            if heard.send(notification.payload().to_owned()).is_err() {
                return;
            }
        }
    });
    let outcome = supervise(pool, hub, &mut hearing).await;
    receiver.abort();
    outcome
}

/// Applies what is heard, sends heartbeats, and watches for silence.
async fn supervise(
    pool: &PgPool,
    hub: &Weak<ChangeHub>,
    hearing: &mut mpsc::UnboundedReceiver<String>,
) -> anyhow::Result<()> {
    match hub.upgrade() {
        Some(live) => live.restored(),
        None => return Ok(()),
    }
    info!("hearing other instances' changes: the decision cache is on");
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            payload = hearing.recv() => {
                let payload = payload.ok_or_else(|| anyhow::anyhow!("the listening connection failed"))?;
                last_heard = Instant::now();
                if payload != HEARTBEAT {
                    let Some(live) = hub.upgrade() else { return Ok(()) };
                    // This store's own commits were handed to its hub as they committed.
                    match decode(&payload) {
                        (Some(origin), _) if origin == live.origin() => {}
                        (_, facts) => live.committed(&facts),
                    }
                }
            }
            _ = tick.tick() => {
                if hub.strong_count() == 0 {
                    return Ok(());
                }
                if last_heard.elapsed() > SILENCE {
                    anyhow::bail!("no notification, heartbeats included, for {SILENCE:?}");
                }
                let beat = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(HEARTBEAT).execute(pool);
                match tokio::time::timeout(HEARTBEAT_EVERY, beat).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => debug!(error = %error, "sending the listener's heartbeat failed"),
                    Err(_) => debug!("sending the listener's heartbeat timed out"),
                }
            }
        }
    }
}
