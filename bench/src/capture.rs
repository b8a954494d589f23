//! The SQL accountd really issues for one request, read from its own logs: sqlx logs every
//! statement at `debug` under the target `sqlx::query`, and with `ACCOUNTD_LOG_FORMAT=json`
//! each is one JSON line. This module reads those lines and says, for each `$n`
//! placeholder, which column it is compared with or inserted into, so the pgbench twin can
//! bind a value of the same kind.

use anyhow::{Context, Result, bail};

/// The statements sqlx logged in `log` (JSON lines; other lines and targets are skipped), in
/// order. sqlx sends `BEGIN` as a simple query that it does not log, so it is put back in
/// front of the first statement of each transaction (see [`with_begins`]).
pub fn statements(log: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for line in log.lines().filter(|l| l.trim_start().starts_with('{')) {
        let value: serde_json::Value = serde_json::from_str(line).with_context(|| format!("bad log line {line}"))?;
        if value["target"] != "sqlx::query" {
            continue;
        }
        // sqlx fills `db.statement` only when the statement is longer than its summary (the
        // first four words, with " …" appended); short ones such as COMMIT are the summary.
        let statement = value["db.statement"].as_str().map(str::trim).filter(|s| !s.is_empty());
        let text = match statement {
            Some(s) => s.to_owned(),
            None => value["summary"].as_str().context("a sqlx::query line without summary")?.trim().to_owned(),
        };
        // The store's listener heartbeats with pg_notify on its own connection, at any time;
        // a write's commit also notifies (docs/ARCHITECTURE.md, announcing changes). Neither
        // is part of a request's SQL for the twin: the twin leaves the one NOTIFY out.
        if text.contains("pg_notify(") {
            continue;
        }
        out.push(text);
    }
    Ok(with_begins(out))
}

/// Puts `BEGIN` before each transaction: a `COMMIT` closes one, and it opened at the first
/// statement since the previous statement outside a transaction that only a transaction can
/// run (a write, a row lock or a transaction-scoped advisory lock). Reads before that point
/// run on the pool, outside it — which is how accountd's services are written (authorization
/// is decided before a transaction begins).
pub fn with_begins(statements: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(statements.len() + 1);
    let mut open = false;
    let mut start = 0;
    for statement in statements {
        let upper = statement.to_ascii_uppercase();
        if upper == "COMMIT" || upper == "ROLLBACK" {
            if !open {
                // The first transactional statement since the last committed transaction.
                let first = out[start..].iter().position(|s| needs_transaction(s)).map_or(out.len(), |i| start + i);
                out.insert(first, "BEGIN".to_owned());
            }
            out.push(statement);
            open = false;
            start = out.len();
            continue;
        }
        if upper == "BEGIN" {
            open = true;
        }
        out.push(statement);
    }
    out
}

fn needs_transaction(statement: &str) -> bool {
    let upper = statement.to_ascii_uppercase();
    ["INSERT ", "UPDATE ", "DELETE "].iter().any(|w| upper.starts_with(w))
        || upper.contains(" FOR UPDATE")
        || upper.contains("PG_ADVISORY_XACT_LOCK")
}

/// What a `$n` placeholder stands for, judged from the text around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// `column = $n` (also `>`, `<`, `>=`, `<=`): the operator and the column, without alias.
    Compare { table: String, column: String, op: String },
    /// `column IN (…, $n, …)`: the position in the list and the list's length.
    In { table: String, column: String, position: usize, len: usize },
    /// `LIMIT $n`.
    Limit,
    /// The value inserted into `column` by `INSERT INTO table (…) VALUES (…)`.
    Insert { table: String, column: String },
}

/// Every placeholder of `sql` with its slot, in order of appearance.
pub fn slots(sql: &str) -> Result<Vec<(usize, Slot)>> {
    let table = main_table(sql).unwrap_or_default();
    if let Some(inserted) = insert_slots(sql, &table)? {
        return Ok(inserted);
    }
    let mut out: Vec<(usize, Slot)> = Vec::new();
    for (at, number) in placeholders(sql) {
        let before = sql[..at].trim_end();
        let upper = before.to_ascii_uppercase();
        if upper.ends_with("LIMIT") {
            out.push((number, Slot::Limit));
            continue;
        }
        if let Some(open) = upper.rfind(" IN (").filter(|&i| !before[i..].contains(')')) {
            let column = last_identifier(&before[..open]).context("IN without a column")?;
            let position = before[open..].matches('$').count() + 1;
            out.push((number, Slot::In { table: table.clone(), column, position, len: 0 }));
            continue;
        }
        let op = [">=", "<=", "=", ">", "<"].into_iter().find(|op| before.ends_with(op));
        let Some(op) = op else {
            bail!("cannot tell what ${number} stands for in: {sql}");
        };
        let column = last_identifier(before[..before.len() - op.len()].trim_end())
            .with_context(|| format!("no column before ${number} in: {sql}"))?;
        out.push((number, Slot::Compare { table: table.clone(), column, op: op.to_owned() }));
    }
    // Each IN list's length, now that all its members are known.
    let lens: Vec<(String, usize)> = out
        .iter()
        .filter_map(|(_, s)| match s {
            Slot::In { column, position, .. } => Some((column.clone(), *position)),
            _ => None,
        })
        .fold(Vec::new(), |mut acc: Vec<(String, usize)>, (c, p)| {
            match acc.iter_mut().find(|(k, _)| *k == c) {
                Some(entry) => entry.1 = entry.1.max(p),
                None => acc.push((c, p)),
            }
            acc
        });
    for (_, slot) in &mut out {
        if let Slot::In { column, len, .. } = slot {
            *len = lens.iter().find(|(c, _)| c == column).map_or(0, |(_, l)| *l);
        }
    }
    Ok(out)
}

/// The table a statement reads or writes first: after `FROM`, `INTO` or `UPDATE`.
fn main_table(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let keyword = w[0].to_ascii_uppercase();
        (keyword == "FROM" || keyword == "INTO" || keyword == "UPDATE")
            .then(|| w[1].trim_matches(|c: char| !c.is_alphanumeric() && c != '_').to_owned())
    })
}

/// `INSERT INTO t (c1, c2) VALUES ($1, $2) …`: each placeholder with its column.
fn insert_slots(sql: &str, table: &str) -> Result<Option<Vec<(usize, Slot)>>> {
    if !sql.trim_start().to_ascii_uppercase().starts_with("INSERT INTO") {
        return Ok(None);
    }
    let columns_at = sql.find('(').context("INSERT without a column list")?;
    let columns_end = columns_at + sql[columns_at..].find(')').context("unclosed column list")?;
    let columns: Vec<&str> = sql[columns_at + 1..columns_end].split(',').map(str::trim).collect();
    let values_at = sql.to_ascii_uppercase().find("VALUES").context("INSERT without VALUES")?;
    let values_open = values_at + sql[values_at..].find('(').context("VALUES without a list")?;
    let values_end = values_open + sql[values_open..].find(')').context("unclosed VALUES list")?;
    let mut out = Vec::new();
    for (i, value) in sql[values_open + 1..values_end].split(',').map(str::trim).enumerate() {
        if let Some(number) = value.strip_prefix('$').and_then(|n| n.parse().ok()) {
            let column = columns.get(i).with_context(|| format!("more values than columns in: {sql}"))?;
            out.push((number, Slot::Insert { table: table.to_owned(), column: (*column).to_owned() }));
        }
    }
    Ok(Some(out))
}

/// Byte offsets and numbers of the `$n` placeholders outside string literals.
pub fn placeholders(sql: &str) -> Vec<(usize, usize)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits > 0 {
                    out.push((i, sql[i + 1..i + 1 + digits].parse().unwrap_or(0)));
                    i += digits;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The identifier that `text` ends with, without a table alias (`t.digest` → `digest`).
fn last_identifier(text: &str) -> Option<String> {
    let word = text.split(|c: char| c.is_whitespace() || c == '(' || c == ',').next_back()?;
    let column = word.rsplit('.').next()?;
    (!column.is_empty() && column.chars().all(|c| c.is_alphanumeric() || c == '_')).then(|| column.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(summary: &str, statement: &str) -> String {
        serde_json::json!({
            "timestamp": "2026-11-23T06:00:00Z", "level": "DEBUG", "target": "sqlx::query",
            "summary": summary, "db.statement": statement, "rows_affected": 0, "rows_returned": 1,
        })
        .to_string()
    }

    #[test]
    fn statements_come_from_sqlx_query_lines_only_with_begin_restored() {
        let log = [
            line("SELECT t.id, t.account_id, …", "\n\nSELECT t.id, t.account_id FROM tokens t WHERE t.digest = $1\n"),
            r#"{"target":"accountd","message":"hello"}"#.to_owned(),
            "not json at all".to_owned(),
            line("SELECT id, name FROM …", "\n\nSELECT id, name FROM accounts WHERE id = $1\n"),
            line("SELECT pg_advisory_xact_lock(7402531180)", ""),
            line("SELECT id FROM accounts …", "\n\nSELECT id FROM accounts WHERE id = $1 FOR UPDATE\n"),
            line("INSERT INTO accounts (id) …", "\n\nINSERT INTO accounts (id) VALUES ($1)\n"),
            line("COMMIT", ""),
        ]
        .join("\n");
        assert_eq!(
            statements(&log).unwrap(),
            [
                "SELECT t.id, t.account_id FROM tokens t WHERE t.digest = $1",
                "SELECT id, name FROM accounts WHERE id = $1",
                "BEGIN",
                "SELECT pg_advisory_xact_lock(7402531180)",
                "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
                "INSERT INTO accounts (id) VALUES ($1)",
                "COMMIT",
            ]
        );
    }

    #[test]
    fn reads_without_a_commit_stay_outside_transactions() {
        let plain = vec!["SELECT 1".to_owned(), "UPDATE tokens SET last_used_on = $2 WHERE id = $1".to_owned()];
        assert_eq!(with_begins(plain.clone()), plain);
    }

    #[test]
    fn comparisons_in_lists_and_limits_are_told_apart() {
        let sql = "SELECT account_id, roles FROM members WHERE user_id = $1 AND status = 'member' \
                   AND account_id IN ($2, $3) ORDER BY id LIMIT $4";
        assert_eq!(
            slots(sql).unwrap(),
            [
                (1, Slot::Compare { table: "members".into(), column: "user_id".into(), op: "=".into() }),
                (2, Slot::In { table: "members".into(), column: "account_id".into(), position: 1, len: 2 }),
                (3, Slot::In { table: "members".into(), column: "account_id".into(), position: 2, len: 2 }),
                (4, Slot::Limit),
            ]
        );
        let token = slots("SELECT t.id FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = $1").unwrap();
        assert_eq!(token, [(1, Slot::Compare { table: "tokens".into(), column: "digest".into(), op: "=".into() })]);
        let page = slots("SELECT id FROM accounts WHERE id > $1 ORDER BY id LIMIT $2").unwrap();
        assert_eq!(page[0].1, Slot::Compare { table: "accounts".into(), column: "id".into(), op: ">".into() });
    }

    #[test]
    fn insert_values_map_to_their_columns() {
        let sql = "INSERT INTO members (account_id, user_id, roles, status) VALUES ($1, $2, $3, 'member') \
                   ON CONFLICT (account_id, user_id) DO UPDATE SET roles = excluded.roles";
        let got = slots(sql).unwrap();
        let columns: Vec<(usize, &str)> = got
            .iter()
            .map(|(n, s)| match s {
                Slot::Insert { table, column } if table == "members" => (*n, column.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(columns, [(1, "account_id"), (2, "user_id"), (3, "roles")]);
    }

    #[test]
    fn dollars_inside_literals_are_not_placeholders_and_unknown_contexts_fail() {
        assert_eq!(placeholders("SELECT '$1' || $2"), [(15, 2)]);
        assert!(slots("SELECT coalesce($1, 0)").is_err());
    }
}
