//! libpq's multi-host connection URLs, which sqlx does not understand:
//! `postgres://user@h1:5432,h2:5433/db?target_session_attrs=read-write` names every node
//! of a replicated cluster, and the store connects to the first one whose role matches
//! `target_session_attrs` (`any`, `read-write`, `read-only`, `primary`, `standby`,
//! `prefer-standby`, libpq's values and meanings). After a failover the same URL finds the
//! new primary: `crate::postgres` keeps probing while the current host fails or has the
//! wrong role, and points the pool at the one that matches.
//!
//! The URL is split here and each host is given to sqlx as a single-host URL with the rest
//! unchanged (user, password, database, `sslmode` and the other parameters), so everything
//! sqlx already parses keeps meaning what it did. Error messages never repeat the URL: it
//! may hold a password.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The parameter naming which role of server a connection must reach.
const TARGET_PARAM: &str = "target_session_attrs";
/// libpq's per-host connect timeout, in seconds; sqlx does not know it.
const CONNECT_TIMEOUT_PARAM: &str = "connect_timeout";
/// How long connecting to one host may take while looking for a matching one, unless the
/// URL's `connect_timeout` says otherwise: a host that does not answer must not hold up
/// the others for long.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The port of a host that names none, as in libpq.
const DEFAULT_PORT: u16 = 5432;

/// Which server a connection must reach, as libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// Any server that accepts the connection.
    #[default]
    Any,
    /// A server whose sessions may write (`transaction_read_only` is off).
    ReadWrite,
    /// A server whose sessions are read-only (`transaction_read_only` is on).
    ReadOnly,
    /// A server not in recovery.
    Primary,
    /// A server in recovery (a hot standby).
    Standby,
    /// A standby if one is up, else any server.
    PreferStandby,
}

impl TargetSessionAttrs {
    const ALL: [(&'static str, Self); 6] = [
        ("any", Self::Any),
        ("read-write", Self::ReadWrite),
        ("read-only", Self::ReadOnly),
        ("primary", Self::Primary),
        ("standby", Self::Standby),
        ("prefer-standby", Self::PreferStandby),
    ];

    /// libpq's name of this value.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, v)| *v == self).map_or("any", |(name, _)| name)
    }

    /// Whether a connection to a server with `role` may be used: for `prefer-standby`, any
    /// server is (a standby is only preferred when choosing the host).
    pub(crate) fn admits(self, role: Role) -> bool {
        self == Self::PreferStandby || self.accepts(role)
    }

    /// Whether a server with `role` is acceptable on the first pass over the hosts (on the
    /// second pass of `prefer-standby`, any server is).
    pub(crate) fn accepts(self, role: Role) -> bool {
        match self {
            Self::Any => true,
            Self::ReadWrite => !role.read_only,
            Self::ReadOnly => role.read_only,
            Self::Primary => !role.in_recovery,
            Self::Standby | Self::PreferStandby => role.in_recovery,
        }
    }
}

impl FromStr for TargetSessionAttrs {
    type Err = InvalidDatabaseUrl;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|(name, _)| *name).collect();
            InvalidDatabaseUrl(format!("{TARGET_PARAM} must be one of {}, not {value:?}", names.join(", ")))
        })
    }
}

/// What a server said it is, on a fresh connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Role {
    /// `pg_is_in_recovery()`: a standby replaying the primary's WAL.
    pub(crate) in_recovery: bool,
    /// `transaction_read_only`: sessions cannot write (a standby, or a server configured
    /// read-only).
    pub(crate) read_only: bool,
}

impl Role {
    /// Asks the server on `connection`.
    pub(crate) async fn of(connection: &mut PgConnection) -> Result<Role, sqlx::Error> {
        let (in_recovery, read_only): (bool, bool) =
            sqlx::query_as("SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'")
                .fetch_one(connection)
                .await?;
        Ok(Role { in_recovery, read_only })
    }

    fn describe(self) -> &'static str {
        match (self.in_recovery, self.read_only) {
            (true, _) => "a standby",
            (false, true) => "a read-only primary",
            (false, false) => "a read-write primary",
        }
    }
}

/// A `database_url` that is not a PostgreSQL URL libpq would accept, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDatabaseUrl(String);

impl fmt::Display for InvalidDatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid database_url: {}", self.0)
    }
}

impl std::error::Error for InvalidDatabaseUrl {}

/// One `host:port` of the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// A name, an IPv4 address, or an IPv6 address in brackets (`[::1]`), as written.
    name: String,
    port: u16,
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.port)
    }
}

/// A parsed `database_url`: its hosts in order, each with the sqlx options to reach it,
/// and the role the connection must find.
#[derive(Clone)]
pub struct Topology {
    hosts: Vec<(Host, PgConnectOptions)>,
    target: TargetSessionAttrs,
    connect_timeout: Duration,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The options hold the password; the hosts and the target are what a reader needs.
        f.debug_struct("Topology")
            .field("hosts", &self.hosts.iter().map(|(h, _)| h.to_string()).collect::<Vec<_>>())
            .field("target", &self.target)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl Topology {
    /// Parses `url`: `postgres://` or `postgresql://`, optional `user[:password]@`, one host
    /// or a comma-separated list of them (each `name`, `name:port` or `[ipv6]:port`), an
    /// optional `/database` and `?parameters`.
    pub fn parse(url: &str) -> Result<Topology, InvalidDatabaseUrl> {
        let invalid = |reason: String| InvalidDatabaseUrl(reason);
        let (scheme, rest) = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme).map(|rest| (*scheme, rest)))
            .ok_or_else(|| invalid("a PostgreSQL url starts with postgres:// or postgresql://".to_owned()))?;
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_list) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (tail, None),
        };
        if path.len() > 1 && path[1..].contains('/') {
            return Err(invalid("the database name may not contain '/'".to_owned()));
        }

        let mut target = TargetSessionAttrs::Any;
        let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        let mut passed_on = Vec::new();
        for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                TARGET_PARAM => target = value.parse()?,
                CONNECT_TIMEOUT_PARAM => {
                    let seconds: u64 = value.parse().map_err(|_| {
                        invalid(format!("{CONNECT_TIMEOUT_PARAM} must be a whole number of seconds, not {value:?}"))
                    })?;
                    // libpq: zero means wait forever; here it means the default, never forever.
                    if seconds > 0 {
                        connect_timeout = Duration::from_secs(seconds);
                    }
                }
                _ => passed_on.push(pair),
            }
        }

        let hosts = parse_hosts(host_list)?;
        let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        let query = if passed_on.is_empty() { String::new() } else { format!("?{}", passed_on.join("&")) };
        let hosts = hosts
            .into_iter()
            .map(|host| {
                let single = format!("{scheme}{userinfo}{host}{path}{query}");
                // sqlx names the part it could not read, never the whole URL.
                let mut options =
                    PgConnectOptions::from_str(&single).map_err(|e| invalid(format!("host {host}: {e}")))?;
                // sqlx keeps an IPv6 address's brackets, which no resolver accepts.
                if let Some(address) = host.name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
                    options = options.host(address);
                }
                Ok((host, options))
            })
            .collect::<Result<Vec<_>, InvalidDatabaseUrl>>()?;
        Ok(Topology { hosts, target, connect_timeout })
    }

    /// True when the URL names one host and any server will do: the pool connects as sqlx
    /// always did, with no probing.
    pub fn is_plain(&self) -> bool {
        self.hosts.len() == 1 && self.target == TargetSessionAttrs::Any
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().map(|(host, _)| host)
    }

    pub fn target(&self) -> TargetSessionAttrs {
        self.target
    }

    /// The options of the first host, for a URL [`Topology::is_plain`].
    pub fn first_options(&self) -> &PgConnectOptions {
        &self.hosts[0].1
    }

    /// Applies `change` to every host's options (an `application_name`, a statement
    /// timeout, a search path for tests).
    pub fn map_options(mut self, change: impl Fn(PgConnectOptions) -> PgConnectOptions) -> Self {
        for (_, options) in &mut self.hosts {
            *options = change(options.clone());
        }
        self
    }

    /// Tries the hosts in order and returns the index and options of the first whose role
    /// the target accepts (for `prefer-standby`, the first standby, else the first host
    /// that answered). Each host gets the connect timeout; the error says what every host
    /// answered.
    pub async fn select(&self) -> Result<(usize, PgConnectOptions), NoMatchingHost> {
        let mut answers = Vec::with_capacity(self.hosts.len());
        let mut first_reachable = None;
        for (index, (host, options)) in self.hosts.iter().enumerate() {
            match self.probe(options).await {
                Ok(role) if self.target.accepts(role) => return Ok((index, options.clone())),
                Ok(role) => {
                    first_reachable.get_or_insert(index);
                    answers.push(format!("{host} is {}", role.describe()));
                }
                Err(error) => answers.push(format!("{host}: {error}")),
            }
        }
        if self.target == TargetSessionAttrs::PreferStandby
            && let Some(index) = first_reachable
        {
            return Ok((index, self.hosts[index].1.clone()));
        }
        Err(NoMatchingHost { target: self.target, answers })
    }

    /// Connects to one host and asks its role.
    async fn probe(&self, options: &PgConnectOptions) -> Result<Role, String> {
        let attempt = async {
            let mut connection = PgConnection::connect_with(options).await?;
            let role = Role::of(&mut connection).await;
            let _ = connection.close().await;
            role
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(role)) => Ok(role),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.connect_timeout)),
        }
    }
}

/// No host of the URL had the role `target_session_attrs` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatchingHost {
    target: TargetSessionAttrs,
    answers: Vec<String>,
}

impl fmt::Display for NoMatchingHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no host in database_url matches {TARGET_PARAM}={}: {}", self.target.name(), self.answers.join("; "))
    }
}

impl std::error::Error for NoMatchingHost {}

fn parse_hosts(list: &str) -> Result<Vec<Host>, InvalidDatabaseUrl> {
    let invalid = |reason: String| InvalidDatabaseUrl(reason);
    if list.is_empty() {
        return Err(invalid("the url names no host (a Unix socket needs ?host=/path, with one host)".to_owned()));
    }
    let mut hosts = Vec::new();
    let mut rest = list;
    loop {
        let (name, after) = if let Some(bracketed) = rest.strip_prefix('[') {
            let close = bracketed.find(']').ok_or_else(|| invalid("an IPv6 host lacks its closing ']'".to_owned()))?;
            let address = &bracketed[..close];
            address
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid(format!("[{address}] is not an IPv6 address")))?;
            (format!("[{address}]"), &bracketed[close + 1..])
        } else {
            let end = rest.find([':', ',']).unwrap_or(rest.len());
            let name = &rest[..end];
            if name.is_empty() {
                return Err(invalid(format!("host {} of the url is empty", hosts.len() + 1)));
            }
            if name.contains(['[', ']', ' ', '/']) {
                return Err(invalid(format!("host {name:?} is not a host name or address")));
            }
            (name.to_owned(), &rest[end..])
        };
        let (port, after) = match after.strip_prefix(':') {
            Some(port_and_more) => {
                let end = port_and_more.find(',').unwrap_or(port_and_more.len());
                let text = &port_and_more[..end];
                let port = text
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid(format!("the port of host {name} must be 1–65535, not {text:?}")))?;
                (port, &port_and_more[end..])
            }
            None => (DEFAULT_PORT, after),
        };
        hosts.push(Host { name, port });
        match after.strip_prefix(',') {
            Some(next) => rest = next,
            None if after.is_empty() => return Ok(hosts),
            None => return Err(invalid(format!("unexpected {after:?} after host {}", hosts.len()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(url: &str) -> Vec<String> {
        Topology::parse(url).unwrap().hosts().map(ToString::to_string).collect()
    }

    fn refusal(url: &str) -> String {
        Topology::parse(url).unwrap_err().to_string()
    }

    #[test]
    fn a_single_host_url_is_plain_and_keeps_every_libpq_parameter() {
        let topology = Topology::parse("postgres://ada:secret@db.example:6543/accounts?sslmode=disable").unwrap();
        assert!(topology.is_plain());
        let options = topology.first_options();
        assert_eq!((options.get_host(), options.get_port()), ("db.example", 6543));
        assert_eq!((options.get_username(), options.get_database()), ("ada", Some("accounts")));
    }

    #[test]
    fn a_host_list_keeps_its_order_ports_and_ipv6_brackets() {
        let url = "postgresql://u@h1:5432,h2:5433,[::1]:5434,h4/db?target_session_attrs=read-write";
        assert_eq!(hosts(url), ["h1:5432", "h2:5433", "[::1]:5434", "h4:5432"]);
        let topology = Topology::parse(url).unwrap();
        assert_eq!(topology.target(), TargetSessionAttrs::ReadWrite);
        assert!(!topology.is_plain());
        let ports: Vec<u16> = topology.hosts.iter().map(|(_, o)| o.get_port()).collect();
        assert_eq!(ports, [5432, 5433, 5434, 5432]);
        assert_eq!(topology.hosts[2].1.get_host(), "::1", "sqlx gets the address without brackets");
        assert!(topology.hosts.iter().all(|(_, o)| o.get_database() == Some("db") && o.get_username() == "u"));
    }

    #[test]
    fn every_libpq_target_is_understood_and_one_host_with_a_target_is_not_plain() {
        for (name, target) in TargetSessionAttrs::ALL {
            let topology = Topology::parse(&format!("postgres://h/db?target_session_attrs={name}")).unwrap();
            assert_eq!((topology.target(), target.name()), (target, name));
            assert_eq!(topology.is_plain(), target == TargetSessionAttrs::Any);
        }
    }

    #[test]
    fn the_other_parameters_reach_every_host_and_connect_timeout_is_read_here() {
        let url = "postgres://u@a,b/db?options=-csearch_path%3Dx&target_session_attrs=primary&connect_timeout=7&application_name=acd";
        let topology = Topology::parse(url).unwrap();
        assert_eq!(topology.connect_timeout, Duration::from_secs(7));
        for (_, options) in &topology.hosts {
            assert_eq!(options.get_application_name(), Some("acd"));
            assert_eq!(options.get_options(), Some("-csearch_path=x"));
        }
        let zero = Topology::parse("postgres://a,b/db?connect_timeout=0").unwrap();
        assert_eq!(zero.connect_timeout, DEFAULT_CONNECT_TIMEOUT, "never forever");
    }

    #[test]
    fn roles_are_accepted_as_libpq_accepts_them() {
        let primary = Role { in_recovery: false, read_only: false };
        let read_only_primary = Role { in_recovery: false, read_only: true };
        let standby = Role { in_recovery: true, read_only: true };
        use TargetSessionAttrs as T;
        assert!(T::ReadWrite.accepts(primary) && !T::ReadWrite.accepts(read_only_primary));
        assert!(!T::ReadWrite.accepts(standby));
        assert!(T::Primary.accepts(read_only_primary) && !T::Primary.accepts(standby));
        assert!(T::Standby.accepts(standby) && !T::Standby.accepts(primary));
        assert!(
            T::ReadOnly.accepts(standby) && T::ReadOnly.accepts(read_only_primary) && !T::ReadOnly.accepts(primary)
        );
        assert!(T::PreferStandby.accepts(standby) && !T::PreferStandby.accepts(primary), "primary only on pass two");
        assert!(T::PreferStandby.admits(primary) && !T::Standby.admits(primary), "and then used");
        assert!([primary, standby, read_only_primary].into_iter().all(|r| T::Any.accepts(r)));
    }

    #[test]
    fn a_bad_target_is_refused_naming_the_setting_and_the_choices() {
        let error = refusal("postgres://h1,h2/db?target_session_attrs=master");
        assert!(
            error.starts_with("invalid database_url: target_session_attrs must be one of any, read-write"),
            "{error}"
        );
        assert!(error.contains("\"master\""), "{error}");
    }

    #[test]
    fn malformed_host_lists_are_refused_with_the_reason() {
        let cases = [
            ("mysql://h/db", "starts with postgres://"),
            ("postgres://u@/db", "names no host"),
            ("postgres://h1,,h2/db", "host 2 of the url is empty"),
            ("postgres://h1,/db", "host 2 of the url is empty"),
            ("postgres://h1:0,h2/db", "port of host h1 must be 1–65535"),
            ("postgres://h1:70000/db", "port of host h1 must be 1–65535"),
            ("postgres://h1:54x2,h2/db", "port of host h1 must be 1–65535, not \"54x2\""),
            ("postgres://[::1:5432/db", "lacks its closing ']'"),
            ("postgres://[nope]:5432/db", "[nope] is not an IPv6 address"),
            ("postgres://[::1]x/db", "unexpected \"x\" after host 1"),
            ("postgres://h/db/extra", "may not contain '/'"),
            ("postgres://h1,h2/db?connect_timeout=soon", "connect_timeout must be a whole number of seconds"),
        ];
        for (url, reason) in cases {
            let error = refusal(url);
            assert!(error.starts_with("invalid database_url: "), "{url}: {error}");
            assert!(error.contains(reason), "{url}: {error}");
        }
    }

    #[test]
    fn a_refusal_never_repeats_the_password() {
        let error = refusal("postgres://ada:hunter2@h1:99999,h2/db");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(!format!("{:?}", Topology::parse("postgres://ada:hunter2@h1,h2/db").unwrap()).contains("hunter2"));
    }

    #[test]
    fn no_matching_host_names_the_setting_and_every_answer() {
        let error = NoMatchingHost {
            target: TargetSessionAttrs::Standby,
            answers: vec![
                "127.0.0.1:1: connection refused".to_owned(),
                "127.0.0.1:5432 is a read-write primary".to_owned(),
            ],
        };
        assert_eq!(
            error.to_string(),
            "no host in database_url matches target_session_attrs=standby: 127.0.0.1:1: connection refused; \
             127.0.0.1:5432 is a read-write primary"
        );
    }
}
