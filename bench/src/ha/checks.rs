//! The invariants checked on the surviving primary once the load has stopped: every
//! acknowledged create present exactly once with the id it was acknowledged with, no key
//! applied twice, every account with its owner's membership and its `account.create` audit
//! event (written in the same transaction), and no read of an acknowledged account that
//! answered 404.

use std::collections::HashMap;

use anyhow::Result;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::traffic::Record;

#[derive(Debug, Default)]
pub struct Checks {
    pub acknowledged: usize,
    pub missing: Vec<String>,
    pub duplicated: Vec<String>,
    pub wrong_id: Vec<String>,
    /// Keys whose acknowledgements (first answer and replays) named different ids.
    pub replays_disagree: Vec<String>,
    pub retried_after_ambiguous_failure: usize,
    pub unacknowledged_keys: usize,
    pub unacknowledged_applied: usize,
    pub without_owner: i64,
    pub without_audit: i64,
    pub audit_twice: i64,
    pub lost_reads: usize,
}

impl Checks {
    pub fn passed(&self) -> bool {
        self.missing.is_empty()
            && self.duplicated.is_empty()
            && self.wrong_id.is_empty()
            && self.replays_disagree.is_empty()
            && self.without_owner == 0
            && self.without_audit == 0
            && self.audit_twice == 0
            && self.lost_reads == 0
    }
}

pub async fn run(primary_url: &str, record: &Record) -> Result<Checks> {
    let mut db = PgConnection::connect(primary_url).await?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, id::text FROM accounts WHERE name LIKE 'ha-%'").fetch_all(&mut db).await?;
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, id) in &rows {
        by_name.entry(name).or_default().push(id);
    }
    let mut checks = Checks { lost_reads: record.lost_reads.len(), ..Checks::default() };
    for (key, outcome) in &record.keys {
        let stored = by_name.get(outcome.name.as_str()).map(Vec::as_slice).unwrap_or_default();
        if stored.len() > 1 {
            checks.duplicated.push(key.clone());
        }
        let Some(first) = outcome.acknowledged.first() else {
            checks.unacknowledged_keys += 1;
            checks.unacknowledged_applied += stored.len().min(1);
            continue;
        };
        checks.acknowledged += 1;
        if outcome.ambiguous {
            checks.retried_after_ambiguous_failure += 1;
        }
        if outcome.acknowledged.iter().any(|id| id != first) {
            checks.replays_disagree.push(key.clone());
        }
        match stored {
            [] => checks.missing.push(key.clone()),
            [id, ..] if id != first => checks.wrong_id.push(key.clone()),
            _ => {}
        }
    }
    let (without_owner,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM accounts a WHERE a.name LIKE 'ha-%' AND NOT EXISTS (
             SELECT 1 FROM members m WHERE m.account_id = a.id AND m.user_id = a.owner_id
             AND ',' || m.roles || ',' LIKE '%,owner,%')",
    )
    .fetch_one(&mut db)
    .await?;
    let (without_audit,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM accounts a WHERE a.name LIKE 'ha-%' AND NOT EXISTS (
             SELECT 1 FROM audit_events e WHERE e.resource_id = a.id::text AND e.action = 'account.create')",
    )
    .fetch_one(&mut db)
    .await?;
    let (audit_twice,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT resource_id FROM audit_events WHERE action = 'account.create'
             GROUP BY resource_id HAVING count(*) > 1) twice",
    )
    .fetch_one(&mut db)
    .await?;
    checks.without_owner = without_owner;
    checks.without_audit = without_audit;
    checks.audit_twice = audit_twice;
    Ok(checks)
}
