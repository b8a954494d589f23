//! `context` for the stores' results, as anyhow's [`anyhow::Context`] with one addition: a
//! sqlx error that means the database cannot be reached is marked
//! [`StoreUnavailable`](accountd_domain::StoreUnavailable), so the services answer 503 /
//! UNAVAILABLE for it instead of 500; a deadlock or serialization failure is marked
//! [`StoreContention`](accountd_domain::StoreContention) (409 / ABORTED). The store macros import this trait in place of
//! anyhow's, so every statement's error passes through [`is_unavailable`].

use std::fmt::Display;

use accountd_domain::{StoreContention, StoreUnavailable};

/// Adds a message to an error, marking connection failures on the way.
pub trait Context<T> {
    fn context<C>(self, context: C) -> anyhow::Result<T>
    where
        C: Display + Send + Sync + 'static;

    fn with_context<C, F>(self, context: F) -> anyhow::Result<T>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C;
}

impl<T, E: Into<anyhow::Error>> Context<T> for Result<T, E> {
    fn context<C>(self, context: C) -> anyhow::Result<T>
    where
        C: Display + Send + Sync + 'static,
    {
        self.map_err(|e| add_context(mark(e.into()), context))
    }

    fn with_context<C, F>(self, context: F) -> anyhow::Result<T>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| add_context(mark(e.into()), context()))
    }
}

/// `error` with `context` on top, except a [`StoreContention`]: its own message ("a
/// concurrent transaction conflicted with this one; retry") is what a client is shown with
/// the 409, rather than the name of the statement that lost.
fn add_context<C>(error: anyhow::Error, context: C) -> anyhow::Error
where
    C: Display + Send + Sync + 'static,
{
    if error.is::<StoreContention>() { error } else { error.context(context) }
}

/// `error`, wrapped in [`StoreUnavailable`] when it is a sqlx error saying the database
/// cannot be reached.
pub fn mark(error: anyhow::Error) -> anyhow::Error {
    match error.downcast::<sqlx::Error>() {
        Ok(sqlx) if is_unavailable(&sqlx) => anyhow::Error::new(StoreUnavailable::new(sqlx)),
        Ok(sqlx) if is_contention(&sqlx) => anyhow::Error::new(StoreContention::new(sqlx)),
        Ok(sqlx) => anyhow::Error::new(sqlx),
        Err(other) => other,
    }
}

/// True when `error` says the database cannot be reached rather than that a statement
/// failed: no connection within the pool's acquire timeout, a connection refused, reset or
/// closed, the server shutting down, out of connection slots, read-only (a standby) or too
/// slow to answer. The same statement may succeed once the database (or its new primary)
/// is back.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// True when `error` is PostgreSQL aborting this transaction for a concurrent one: 40P01
/// (deadlock detected) or 40001 (serialization failure). Retrying may succeed: 409.
pub fn is_contention(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().is_some_and(|code| matches!(&*code, "40P01" | "40001")))
}

/// PostgreSQL's SQLSTATEs of class 08 (connection exception), 57P01–57P03 (shutting down,
/// crashed, starting up), 53300 (too many connections), 25006 (read-only transaction: the
/// server is a standby, the old primary after a failover, or was made read-only) and 57014
/// (the statement timeout cancelled it: the database did not answer in time); SQLite's BUSY and LOCKED (codes
/// 5 and 6 and their extended forms), which mean the write lock stayed taken past the busy
/// timeout. The two code sets cannot be confused: SQLite's are numbers below 5 digits.
fn unavailable_code(code: &str) -> bool {
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "25006" | "57014") {
        return true;
    }
    code.len() < 5 && code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_marked_and_statement_failures_are_not() {
        let refused = sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        for error in [sqlx::Error::PoolTimedOut, refused] {
            let marked = Err::<(), _>(error).context("reading an account").unwrap_err();
            assert!(marked.chain().any(|c| c.is::<StoreUnavailable>()), "{marked:#}");
        }
        let missing = Err::<(), _>(sqlx::Error::RowNotFound).context("reading an account").unwrap_err();
        assert!(!missing.chain().any(|c| c.is::<StoreUnavailable>()));
        assert!(missing.chain().any(|c| c.is::<sqlx::Error>()), "the sqlx error stays in the chain");
        let other = Err::<(), _>(anyhow::anyhow!("bad row")).context("decoding").unwrap_err();
        assert_eq!(format!("{other:#}"), "decoding: bad row");
    }

    #[test]
    fn sqlstates_of_lost_connections_and_sqlite_busy_count_as_unavailable() {
        for code in ["08006", "08001", "57P01", "57P03", "53300", "25006", "57014", "5", "517", "6", "262"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "23503", "40001", "1", "19", "2067"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }
}
