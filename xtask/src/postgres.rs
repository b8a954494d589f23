//! Which PostgreSQL server the tests use: the one DATABASE_URL names, a local one on 5432,
//! or a throwaway cluster, in that order; never none.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::cluster::{self, Cluster};

const LOCAL_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 5432;
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The server the tests use; holding a throwaway cluster keeps it running.
#[derive(Debug)]
pub enum Server {
    /// The server DATABASE_URL names.
    FromEnv(String),
    /// A server already listening on 127.0.0.1:5432.
    Local,
    /// A cluster started for this run, stopped and removed when dropped.
    Throwaway(Cluster),
}

impl Server {
    /// The URL the tests get as DATABASE_URL.
    pub fn url(&self) -> String {
        match self {
            Server::FromEnv(url) => url.clone(),
            Server::Local => LOCAL_URL.to_owned(),
            Server::Throwaway(cluster) => cluster.url(),
        }
    }

    /// Says which server this is, without any password the URL holds.
    pub fn describe(&self) -> String {
        let origin = match self {
            Server::FromEnv(_) => "DATABASE_URL".to_owned(),
            Server::Local => "local server".to_owned(),
            Server::Throwaway(cluster) => cluster.describe(),
        };
        format!("{} ({origin})", redact_password(&self.url()))
    }
}

/// Finds or starts the server for this run.
pub fn provide(root: &Path) -> Result<Server> {
    let forced = std::env::var("XTASK_PG_FORCE_THROWAWAY").is_ok_and(|v| !v.is_empty() && v != "0");
    if !forced {
        if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            let (host, port) = host_and_port(&url).context("DATABASE_URL is not a PostgreSQL URL")?;
            if !answers(&host, port).context("could not check the server DATABASE_URL names")? {
                bail!(
                    "DATABASE_URL names {host}:{port}, where nothing answered a TCP connect within {}s; \
                     start that server or unset DATABASE_URL",
                    CONNECT_TIMEOUT.as_secs()
                );
            }
            return Ok(Server::FromEnv(url));
        }
        if answers(LOCAL_HOST, DEFAULT_PORT).unwrap_or(false) {
            return Ok(Server::Local);
        }
    }
    match cluster::Binaries::find() {
        Some(binaries) => Ok(Server::Throwaway(Cluster::start(binaries, root)?)),
        None => Err(no_server_error(forced)),
    }
}

/// The failure when no server can be found or started, listing every way to provide one.
fn no_server_error(forced: bool) -> anyhow::Error {
    let why = if forced {
        "XTASK_PG_FORCE_THROWAWAY is set, but no throwaway cluster can be started"
    } else {
        "DATABASE_URL is not set, nothing answers on 127.0.0.1:5432, and no throwaway cluster can be started"
    };
    let ci = if std::env::var("CI").is_ok_and(|v| v == "true") {
        "\nCI=true changes nothing: PostgreSQL tests never skip, so CI must provide a server too."
    } else {
        ""
    };
    anyhow!(
        "the PostgreSQL tests need a server: {why}. Provide one in any of these ways:\n  \
         1. set DATABASE_URL to a server's URL (postgres://user@host:port/db);\n  \
         2. run a local server on 127.0.0.1:5432 that accepts user postgres without a password;\n  \
         3. install the PostgreSQL server binaries (initdb and pg_ctl on PATH or under \
         /usr/lib/postgresql/<version>/bin; when running as root, a `postgres` user and \
         runuser too), and xtask starts a throwaway cluster.{ci}"
    )
}

/// Whether something accepts a TCP connection on `host:port` within the timeout; fails
/// when `host` does not resolve, since that calls for a different fix than a closed port.
fn answers(host: &str, port: u16) -> Result<bool> {
    let addresses = (host, port).to_socket_addrs().with_context(|| format!("could not resolve {host}"))?;
    Ok(addresses.into_iter().any(|a| TcpStream::connect_timeout(&a, CONNECT_TIMEOUT).is_ok()))
}

/// The authority of a `postgres://` or `postgresql://` URL and what precedes and follows it.
fn split_authority(url: &str) -> Result<(&str, &str, &str)> {
    let scheme_end = ["postgres://", "postgresql://"]
        .iter()
        .find(|scheme| url.starts_with(*scheme))
        .map(|scheme| scheme.len())
        .ok_or_else(|| anyhow!("expected a postgres:// or postgresql:// URL"))?;
    let rest = &url[scheme_end..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Ok((&url[..scheme_end], &rest[..end], &rest[end..]))
}

/// The host and port a PostgreSQL URL connects to: the first host when it names several,
/// `localhost` when it names none, and port 5432 when it names none.
pub fn host_and_port(url: &str) -> Result<(String, u16)> {
    let (_, authority, _) = split_authority(url)?;
    // The user info ends at the last `@`, since a password may contain one.
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts);
    let first = hosts.split(',').next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = first.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').context("an IPv6 host lacks its closing `]`")?;
        (host, after.strip_prefix(':'))
    } else {
        match first.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (first, None),
        }
    };
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(port) => port.parse().with_context(|| format!("`{port}` is not a port number"))?,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_owned(), port))
}

/// The URL with any password replaced by `***`, fit for printing in logs.
pub fn redact_password(url: &str) -> String {
    let Ok((scheme, authority, tail)) = split_authority(url) else {
        return url.to_owned();
    };
    match authority.rsplit_once('@') {
        Some((user_info, hosts)) if user_info.contains(':') => {
            let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
            format!("{scheme}{user}:***@{hosts}{tail}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> (String, u16) {
        match host_and_port(url) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{url} should parse: {e:#}"),
        }
    }

    #[test]
    fn host_and_port_are_read_from_the_url() {
        assert_eq!(parsed("postgres://u@h:5433/db"), ("h".to_owned(), 5433));
    }

    #[test]
    fn port_defaults_to_5432() {
        assert_eq!(parsed("postgres://h/db"), ("h".to_owned(), 5432));
        assert_eq!(parsed("postgres://u@h:/db"), ("h".to_owned(), 5432));
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets() {
        assert_eq!(parsed("postgresql://u:p@[::1]:6000/db?sslmode=disable"), ("::1".to_owned(), 6000));
        assert_eq!(parsed("postgres://[::1]/db"), ("::1".to_owned(), 5432));
    }

    #[test]
    fn odd_but_valid_urls_parse() {
        assert_eq!(parsed("postgres://u:p@ss@h:7000"), ("h".to_owned(), 7000));
        assert_eq!(parsed("postgres://a:5001,b:5002/db"), ("a".to_owned(), 5001));
        assert_eq!(parsed("postgres:///db"), ("localhost".to_owned(), 5432));
        assert_eq!(parsed("postgres://h?sslmode=require"), ("h".to_owned(), 5432));
    }

    #[test]
    fn invalid_urls_are_rejected() {
        assert!(host_and_port("mysql://h/db").is_err());
        assert!(host_and_port("postgres://h:port/db").is_err());
        assert!(host_and_port("postgres://h:70000/db").is_err());
        assert!(host_and_port("postgres://[::1/db").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_password("postgres://u:secret@h:5433/db"), "postgres://u:***@h:5433/db");
        assert_eq!(redact_password("postgres://u:p@ss@h/db?x=y"), "postgres://u:***@h/db?x=y");
        assert_eq!(redact_password(LOCAL_URL), LOCAL_URL);
        assert_eq!(redact_password("not a url"), "not a url");
    }
}
