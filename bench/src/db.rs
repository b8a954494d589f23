//! The benchmark's database: a fresh one per run, reached with `psql`, and the seed — a
//! data set written with `INSERT … SELECT generate_series` in the real schema, ids derived
//! from row numbers so that pgbench scripts can compute any seeded id from a random integer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use accountd_domain::PermissionSet;
use accountd_domain::TokenSecret;
use anyhow::{Context, Result, bail};

/// The benchmark database's name; dropped and created anew at each run.
pub const DATABASE: &str = "accountd_bench";

/// What kind of row an id belongs to: its second group, so kinds never collide and the
/// seeded rows sort before anything accountd creates (its UUIDv7s start with the clock).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Account = 0,
    User = 1,
    Token = 2,
    Event = 3,
    /// The one managed domain, active, on which the create scenario makes primary aliases.
    Domain = 4,
    /// Accounts, events and aliases the pgbench twin of the create scenario inserts.
    NewAccount = 9,
    NewEvent = 10,
    NewAlias = 11,
}

/// The name of the seeded domain.
pub const DOMAIN_NAME: &str = "bench.example";

/// The seeded id number `n` of `kind`, as text.
pub fn id(kind: Kind, n: u64) -> String {
    format!("00000000-{:04x}-7000-8000-{n:012x}", kind as u16)
}

/// SQL computing the id of `kind` from the integer expression `n`, as text (see [`id`]).
pub fn id_sql(kind: Kind, n: &str) -> String {
    format!("('00000000-{:04x}-7000-8000-' || lpad(to_hex(CAST({n} AS bigint)), 12, '0'))", kind as u16)
}

/// Where the server is and how to reach it with psql.
#[derive(Debug, Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub psql: PathBuf,
}

impl Server {
    /// Reads host and port from a `postgres://user@host:port/db` URL.
    pub fn from_url(url: &str, psql: PathBuf) -> Result<Self> {
        let rest = url.split_once("://").map(|(_, r)| r).context("not a URL")?;
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match hosts.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().context("bad port")?),
            None => (hosts.to_owned(), 5432),
        };
        Ok(Self { host: if host.is_empty() { "localhost".into() } else { host }, port, psql })
    }

    /// The URL of `database` as user postgres.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@{}:{}/{database}", self.host, self.port)
    }

    /// Runs `sql` in `database` and returns psql's unaligned, tuples-only output.
    pub fn query(&self, database: &str, sql: &str) -> Result<String> {
        self.run(database, sql, None)
    }

    fn run(&self, database: &str, sql: &str, stdin: Option<&[u8]>) -> Result<String> {
        let mut command = Command::new(&self.psql);
        command
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h", &self.host, "-d", database])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().with_context(|| format!("running {}", self.psql.display()))?;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin.unwrap_or_default())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!("psql failed on {}:\n{}", first_line(sql), String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Drops and creates the benchmark database.
    pub fn recreate(&self) -> Result<()> {
        self.query("postgres", &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))?;
        self.query("postgres", &format!("CREATE DATABASE {DATABASE}"))?;
        Ok(())
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or_default()
}

/// The size of the data set.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub accounts: u64,
    pub users: u64,
    pub audit_events: u64,
}

impl Shape {
    /// Accounts per user: the first is the user's agency (top level, where the user is the
    /// owner member and holds its token), the others are ad accounts under it.
    pub fn per_user(&self) -> u64 {
        self.accounts / self.users
    }

    /// The agency of user `u`.
    pub fn agency(&self, u: u64) -> u64 {
        u * self.per_user()
    }
}

/// The seed's statements, in order.
pub fn seed_sql(shape: &Shape) -> Vec<String> {
    let per = shape.per_user();
    let acct = |n: &str| id_sql(Kind::Account, n);
    let user = |n: &str| id_sql(Kind::User, n);
    let agency_of = format!("(n / {per}) * {per}");
    vec![
        format!(
            "INSERT INTO domains (id, name, status, version, created_at, updated_at) \
             VALUES (CAST('{}' AS uuid), '{DOMAIN_NAME}', 'active', 1, now(), now())",
            id(Kind::Domain, 0)
        ),
        format!(
            "INSERT INTO users (id, email, first_name, last_name, status, root_permissions, version, created_at, updated_at) \
             SELECT CAST({} AS uuid), 'user' || u || '@bench.example', 'Bench', 'User ' || u, 'active', '', 1, now(), now() \
             FROM generate_series(0, {}) u",
            user("u"),
            shape.users - 1
        ),
        format!(
            "INSERT INTO accounts (id, name, account_type, status, owner_id, parent_id, path, enforce_twofactor, version, \
             created_at, updated_at) \
             SELECT CAST({id} AS uuid), 'Account ' || n, CASE WHEN n % {per} = 0 THEN 'agency' ELSE 'ad_account' END, \
             'verified', CAST({owner} AS uuid), CASE WHEN n % {per} = 0 THEN NULL ELSE CAST({parent} AS uuid) END, \
             CASE WHEN n % {per} = 0 THEN {id} ELSE {parent} || '/' || {id} END, false, 1, now(), now() \
             FROM generate_series(0, {last}) n ORDER BY n % {per} <> 0, n",
            id = acct("n"),
            owner = user(&format!("n / {per}")),
            parent = acct(&agency_of),
            last = shape.users * per - 1,
        ),
        format!(
            "INSERT INTO members (account_id, user_id, roles, status, invited_by, created_at, updated_at) \
             SELECT CAST({} AS uuid), CAST({} AS uuid), 'owner', 'member', NULL, now(), now() FROM generate_series(0, {}) u",
            acct(&format!("u * {per}")),
            user("u"),
            shape.users - 1
        ),
        format!(
            "INSERT INTO audit_events (id, account_id, actor_type, actor_id, actor_email, action, outcome, resource_type, \
             resource_id, changes, request_ip, user_agent, request_id, occurred_at) \
             SELECT CAST({ev} AS uuid), CAST({a} AS uuid), 'user', {u}, 'user' || ((i % {n}) / {per}) || '@bench.example', \
             'account.update', 'success', 'account', {a}, \
             jsonb_build_object('before', jsonb_build_object('name', 'Account ' || (i % {n})), \
             'after', jsonb_build_object('name', 'Renamed ' || i)), '127.0.0.1', 'accountd-bench', NULL, now() \
             FROM generate_series(0, {last}) i",
            ev = id_sql(Kind::Event, "i"),
            a = acct(&format!("i % {}", shape.users * per)),
            u = user(&format!("(i % {}) / {per}", shape.users * per)),
            n = shape.users * per,
            last = shape.audit_events.saturating_sub(1),
        ),
    ]
}

/// The policies accountd gives a token created with none: allow what its maker may do on
/// the account — for an owner, every account-scoped permission.
pub fn owner_policies() -> String {
    let groups: Vec<String> = PermissionSet::account_scoped().names().iter().map(|n| format!("\"{n}\"")).collect();
    format!("[{{\"effect\": \"allow\", \"resources\": [], \"permission_groups\": [{}]}}]", groups.join(", "))
}

/// Tokens numbered `tokens` as `COPY … FROM STDIN` text, token `n` held by user
/// `n % users` on that user's agency (the seed makes one per user, `0..users`); returns the
/// secrets of the first `keep` of them.
pub fn token_rows(shape: &Shape, tokens: std::ops::Range<u64>, keep: u64) -> (String, Vec<TokenSecret>) {
    let policies = owner_policies();
    let mut rows = String::new();
    let mut kept = Vec::new();
    let first = tokens.start;
    for n in tokens {
        let u = n % shape.users;
        let secret = TokenSecret::generate();
        let digest: String = secret.digest().0.iter().map(|b| format!("{b:02x}")).collect();
        rows.push_str(&format!(
            "{}\t{}\t{}\tbench\t{policies}\tactive\t{}\t\\\\x{digest}\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\n",
            id(Kind::Token, n),
            id(Kind::Account, shape.agency(u)),
            id(Kind::User, u),
            secret.hint(),
        ));
        if n - first < keep {
            kept.push(secret);
        }
    }
    (rows, kept)
}

/// Loads `rows` of [`token_rows`] into the tokens table.
pub fn copy_tokens(server: &Server, rows: &str) -> Result<()> {
    server.run(
        DATABASE,
        "COPY tokens (id, account_id, user_id, name, policies, status, hint, digest, created_at, updated_at) FROM STDIN",
        Some(rows.as_bytes()),
    )?;
    Ok(())
}

/// Writes the data set into the (migrated) benchmark database; returns the load's secrets.
pub fn seed(server: &Server, shape: &Shape, keep: u64) -> Result<Vec<TokenSecret>> {
    for statement in seed_sql(shape) {
        server.query(DATABASE, &statement)?;
    }
    let (rows, kept) = token_rows(shape, 0..shape.users, keep);
    copy_tokens(server, &rows)?;
    server.query(DATABASE, "VACUUM ANALYZE")?;
    Ok(kept)
}

/// The psql next to `pgbench`, else the one on PATH.
pub fn psql_beside(pgbench: &Path) -> PathBuf {
    let beside = pgbench.with_file_name("psql");
    if beside.exists() { beside } else { PathBuf::from("psql") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_rust_and_in_sql_agree_and_sort_by_number() {
        assert_eq!(id(Kind::Account, 255), "00000000-0000-7000-8000-0000000000ff");
        assert_eq!(id(Kind::User, 1), "00000000-0001-7000-8000-000000000001");
        assert!(id(Kind::Account, 9) < id(Kind::Account, 10));
        assert_eq!(
            id_sql(Kind::Token, ":n"),
            "('00000000-0002-7000-8000-' || lpad(to_hex(CAST(:n AS bigint)), 12, '0'))"
        );
    }

    #[test]
    fn urls_give_host_and_port() {
        let s = Server::from_url("postgres://postgres@127.0.0.1:5433/postgres", "psql".into()).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 5433));
        assert_eq!(s.url("x"), "postgres://postgres@127.0.0.1:5433/x");
        let d = Server::from_url("postgresql://u:p@db/postgres?sslmode=disable", "psql".into()).unwrap();
        assert_eq!((d.host.as_str(), d.port), ("db", 5432));
    }

    #[test]
    fn every_user_gets_an_agency_and_a_token_on_it() {
        let shape = Shape { accounts: 1000, users: 10, audit_events: 5 };
        assert_eq!((shape.per_user(), shape.agency(3)), (100, 300));
        let (rows, kept) = token_rows(&shape, 0..shape.users, 2);
        assert_eq!(kept.len(), 2);
        let lines: Vec<&str> = rows.lines().collect();
        assert_eq!(lines.len(), 10);
        let fields: Vec<&str> = lines[3].split('\t').collect();
        assert_eq!(fields[1], id(Kind::Account, 300));
        assert_eq!(fields[2], id(Kind::User, 3));
        assert!(fields[7].starts_with("\\\\x") && fields[7].len() == 3 + 64, "{}", fields[7]);
        let digest: String = kept[0].digest().0.iter().map(|b| format!("{b:02x}")).collect();
        assert!(lines[0].contains(&digest));
        assert!(owner_policies().contains("\"accounts:read\""), "{}", owner_policies());
    }

    #[test]
    fn further_tokens_go_round_the_users_with_ids_after_the_seeded_ones() {
        let shape = Shape { accounts: 1000, users: 10, audit_events: 5 };
        let (rows, kept) = token_rows(&shape, 10..35, 25);
        assert_eq!(kept.len(), 25);
        let lines: Vec<&str> = rows.lines().collect();
        assert_eq!(lines.len(), 25);
        let fields: Vec<&str> = lines[13].split('\t').collect();
        assert_eq!(fields[0], id(Kind::Token, 23));
        assert_eq!((fields[1], fields[2]), (id(Kind::Account, 300).as_str(), id(Kind::User, 3).as_str()));
    }
}
