//! Layered settings: defaults < config file < `DATABASE_URL` < `ACCOUNTD_*` < flags.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::cli::Cli;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the binary can be told.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub database_url: String,
    pub log_format: LogFormat,
    /// Where accountd keeps files of its own (the generated MFA key file). By default the
    /// user's data directory, never the working directory, so running from a checkout cannot
    /// leave a key where git would pick it up.
    pub data_dir: PathBuf,
    /// The key sealing MFA secrets (32 bytes, base64); generated into `data_dir` when unset.
    #[serde(default)]
    pub mfa_key: Option<Redacted>,
    /// How long a request waits for a database connection before it is answered 503.
    #[serde(with = "humantime_serde")]
    pub db_acquire_timeout: Duration,
    /// A pooled PostgreSQL connection idle for longer is pinged before use, so one that died
    /// while idle (the server restarted) is replaced instead of failing a request.
    #[serde(with = "humantime_serde")]
    pub db_idle_ping_after: Duration,
    /// PostgreSQL cancels a statement running longer, and the request is answered 503: a
    /// database that stopped answering (a commit waiting for a lost synchronous standby)
    /// holds no request longer than this. `0s` turns it off. Migrations are exempt.
    #[serde(with = "humantime_serde")]
    pub db_statement_timeout: Duration,
    /// An HTTP connection that has not sent a request's complete headers within this time —
    /// a new connection, or a kept-alive one between requests — is closed.
    #[serde(with = "humantime_serde")]
    pub http_header_read_timeout: Duration,
    /// A request body that sends nothing for this long is answered 408.
    #[serde(with = "humantime_serde")]
    pub http_body_timeout: Duration,
    /// A request (body and handler) not done within this time is answered 408 (REST) or
    /// CANCELLED (gRPC).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Open connections per listener (REST and gRPC each); more wait in the accept queue.
    pub max_connections: usize,
    /// How often an idle gRPC (HTTP/2) connection is pinged, and how long the answer may
    /// take before the connection is closed.
    #[serde(with = "humantime_serde")]
    pub grpc_keepalive_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub grpc_keepalive_timeout: Duration,
    /// Entries of each kind (tokens, users, accounts) the in-process decision cache keeps.
    pub decision_cache_capacity: std::num::NonZeroUsize,
    /// How long events stay in the feed (`GET /v1/events`, `EventService/Watch`): an older
    /// cursor is answered 410 / OUT_OF_RANGE. At least a day; 30 days by default.
    #[serde(with = "humantime_serde")]
    pub event_retention: Duration,
}

/// The data directory when none is configured: `$XDG_DATA_HOME/accountd`, else
/// `$HOME/.local/share/accountd` (the XDG base directory rule). Relative values of those
/// variables are ignored, as the XDG rule says, so the default is never inside the working
/// directory. `None` when neither is set.
fn default_data_dir(env: &HashMap<String, String>) -> Option<PathBuf> {
    let absolute = |name: &str| env.get(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_DATA_HOME")
        .map(|xdg| xdg.join("accountd"))
        .or_else(|| absolute("HOME").map(|home| home.join(".local").join("share").join("accountd")))
}

/// A setting that is a secret: compared and used, never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl Redacted {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Settings {
    /// Resolves the settings from the command line and the environment `env`.
    pub fn load(cli: &Cli, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let env: HashMap<String, String> = env.into_iter().collect();
        let accountd_env: HashMap<String, String> =
            env.iter().filter(|(k, _)| k.starts_with("ACCOUNTD_")).map(|(k, v)| (k.clone(), v.clone())).collect();
        let plain_database_url: HashMap<String, String> = env
            .get("DATABASE_URL")
            .filter(|v| !v.is_empty())
            .map(|v| ("DATABASE_URL".to_owned(), v.clone()))
            .into_iter()
            .collect();
        let mut builder = Config::builder()
            .set_default("http_addr", "127.0.0.1:8080")?
            .set_default("grpc_addr", "127.0.0.1:50051")?
            .set_default("database_url", "sqlite:accountd.db")?
            .set_default("log_format", "text")?
            .set_default(
                "data_dir",
                default_data_dir(&env).map(|d| d.to_string_lossy().into_owned()).unwrap_or_default(),
            )?
            .set_default("db_acquire_timeout", "1s")?
            .set_default("db_idle_ping_after", "1s")?
            .set_default("db_statement_timeout", "10s")?
            .set_default("http_header_read_timeout", "30s")?
            .set_default("http_body_timeout", "10s")?
            .set_default("request_timeout", "30s")?
            .set_default("max_connections", 1024)?
            .set_default("grpc_keepalive_interval", "30s")?
            .set_default("grpc_keepalive_timeout", "10s")?
            .set_default("decision_cache_capacity", accountd_domain::DEFAULT_DECISION_CACHE_CAPACITY.get() as u64)?
            .set_default("event_retention", "30days")?;
        if let Some(path) = &cli.config {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        let settings = builder
            .add_source(Environment::default().source(Some(plain_database_url.into_iter().collect())))
            .add_source(
                Environment::with_prefix("ACCOUNTD")
                    .prefix_separator("_")
                    .source(Some(accountd_env.into_iter().collect())),
            )
            .set_override_option("http_addr", cli.http_addr.map(|a| a.to_string()))?
            .set_override_option("grpc_addr", cli.grpc_addr.map(|a| a.to_string()))?
            .set_override_option("database_url", cli.database_url.clone())?
            .set_override_option("data_dir", cli.data_dir.as_ref().map(|d| d.to_string_lossy().into_owned()))?
            .build()?
            .try_deserialize::<Settings>()
            .context("invalid settings")?;
        settings.check_database_url()?;
        anyhow::ensure!(
            settings.event_retention >= accountd_domain::MIN_RETENTION,
            "invalid settings: event_retention must be at least a day, not {:?}",
            settings.event_retention
        );
        anyhow::ensure!(
            !settings.data_dir.as_os_str().is_empty(),
            "invalid settings: no data_dir configured and neither XDG_DATA_HOME nor HOME is set; \
             set --data-dir or ACCOUNTD_DATA_DIR"
        );
        Ok(settings)
    }

    /// Refuses a URL that names neither store, so a typo such as `postgres:/host/db` cannot
    /// silently start an instance on a local SQLite file.
    fn check_database_url(&self) -> anyhow::Result<()> {
        let url = self.database_url.as_str();
        let sqlite = url.starts_with("sqlite:") || (!url.is_empty() && !url.contains(':'));
        anyhow::ensure!(
            sqlite || self.uses_postgres(),
            "invalid settings: database_url must be postgres://…, postgresql://…, sqlite:FILE or a file path, not {url:?}"
        );
        if self.uses_postgres() {
            // A multi-host URL is read by accountd, not sqlx: a mistake in it is named now,
            // before anything connects.
            accountd_postgres::Topology::parse(url).context("invalid settings")?;
        }
        Ok(())
    }

    /// True when `database_url` names PostgreSQL.
    pub fn uses_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use clap::Parser;

    use super::*;

    /// The environment `pairs` name, on top of a `HOME`.
    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        std::iter::once(("HOME", "/home/ada"))
            .chain(pairs.iter().copied())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("accountd").chain(args.iter().copied()).chain(["serve"]))
    }

    #[test]
    fn events_are_kept_thirty_days_unless_told_and_at_least_a_day() {
        let s = Settings::load(&cli(&[]), env(&[])).unwrap();
        assert_eq!(s.event_retention, Duration::from_secs(30 * 24 * 3600));
        let s = Settings::load(&cli(&[]), env(&[("ACCOUNTD_EVENT_RETENTION", "7days")])).unwrap();
        assert_eq!(s.event_retention, Duration::from_secs(7 * 24 * 3600));
        let short = Settings::load(&cli(&[]), env(&[("ACCOUNTD_EVENT_RETENTION", "1h")])).unwrap_err();
        assert!(format!("{short:#}").contains("event_retention"), "{short:#}");
    }

    #[test]
    fn the_decision_cache_holds_a_hundred_thousand_of_each_unless_told_and_never_zero() {
        let s = Settings::load(&cli(&[]), env(&[])).unwrap();
        assert_eq!(s.decision_cache_capacity.get(), 100_000);
        let s = Settings::load(&cli(&[]), env(&[("ACCOUNTD_DECISION_CACHE_CAPACITY", "5000")])).unwrap();
        assert_eq!(s.decision_cache_capacity.get(), 5000);
        let zero = Settings::load(&cli(&[]), env(&[("ACCOUNTD_DECISION_CACHE_CAPACITY", "0")])).unwrap_err();
        assert!(format!("{zero:#}").contains("decision_cache_capacity"), "{zero:#}");
    }

    #[test]
    fn with_nothing_set_it_serves_sqlite_on_localhost() {
        let s = Settings::load(&cli(&[]), env(&[])).unwrap();
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(s.database_url, "sqlite:accountd.db");
        assert_eq!(s.log_format, LogFormat::Text);
        assert!(!s.uses_postgres());
    }

    #[test]
    fn layers_rise_from_file_to_database_url_to_accountd_env_to_flags() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "http_addr = \"127.0.0.1:1001\"\ngrpc_addr = \"127.0.0.1:1002\"\ndatabase_url = \"sqlite:file.db\"\nlog_format = \"json\"").unwrap();
        let path = file.path().to_str().unwrap().to_owned();

        let from_file = Settings::load(&cli(&["--config", &path]), env(&[])).unwrap();
        assert_eq!((from_file.http_addr.port(), from_file.database_url.as_str()), (1001, "sqlite:file.db"));
        assert_eq!(from_file.log_format, LogFormat::Json);

        let plain = Settings::load(&cli(&["--config", &path]), env(&[("DATABASE_URL", "postgres://h/db")])).unwrap();
        assert_eq!(plain.database_url, "postgres://h/db");
        assert!(plain.uses_postgres());

        let vars = env(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("ACCOUNTD_DATABASE_URL", "sqlite:env.db"),
            ("ACCOUNTD_HTTP_ADDR", "127.0.0.1:2001"),
            ("ACCOUNTD_GRPC_ADDR", "127.0.0.1:2002"),
        ]);
        let from_env = Settings::load(&cli(&["--config", &path]), vars.clone()).unwrap();
        assert_eq!(from_env.database_url, "sqlite:env.db");
        assert_eq!((from_env.http_addr.port(), from_env.grpc_addr.port()), (2001, 2002));

        let flags = cli(&["--config", &path, "--http-addr", "127.0.0.1:3001", "--database-url", "sqlite:flag.db"]);
        let from_flags = Settings::load(&flags, vars).unwrap();
        assert_eq!((from_flags.http_addr.port(), from_flags.grpc_addr.port()), (3001, 2002));
        assert_eq!(from_flags.database_url, "sqlite:flag.db");
    }

    #[test]
    fn the_mfa_key_comes_from_the_environment_and_never_shows_in_debug() {
        let s = Settings::load(&cli(&[]), env(&[])).unwrap();
        assert_eq!((s.mfa_key.as_ref(), s.data_dir.to_str()), (None, Some("/home/ada/.local/share/accountd")));
        let key = "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=";
        let s =
            Settings::load(&cli(&[]), env(&[("ACCOUNTD_MFA_KEY", key), ("ACCOUNTD_DATA_DIR", "/var/lib/a")])).unwrap();
        assert_eq!(s.mfa_key.as_ref().map(Redacted::expose), Some(key));
        assert_eq!(s.data_dir.to_str(), Some("/var/lib/a"));
        let flagged =
            Settings::load(&cli(&["--data-dir", "/srv/accountd"]), env(&[("ACCOUNTD_DATA_DIR", "/var/lib/a")]));
        assert_eq!(flagged.unwrap().data_dir.to_str(), Some("/srv/accountd"), "the flag wins");
        assert!(!format!("{s:?}").contains(key));
    }

    #[test]
    fn timeouts_have_short_defaults_and_take_human_durations() {
        let s = Settings::load(&cli(&[]), env(&[])).unwrap();
        assert_eq!(s.db_acquire_timeout, Duration::from_secs(1));
        assert_eq!(s.db_statement_timeout, Duration::from_secs(10));
        assert_eq!(s.http_header_read_timeout, Duration::from_secs(30));
        assert_eq!((s.request_timeout, s.http_body_timeout), (Duration::from_secs(30), Duration::from_secs(10)));
        assert_eq!(s.max_connections, 1024);
        let s = Settings::load(
            &cli(&[]),
            env(&[
                ("ACCOUNTD_DB_ACQUIRE_TIMEOUT", "250ms"),
                ("ACCOUNTD_DB_STATEMENT_TIMEOUT", "0s"),
                ("ACCOUNTD_HTTP_HEADER_READ_TIMEOUT", "2s"),
                ("ACCOUNTD_MAX_CONNECTIONS", "10"),
            ]),
        )
        .unwrap();
        assert_eq!(s.db_acquire_timeout, Duration::from_millis(250));
        assert_eq!(s.db_statement_timeout, Duration::ZERO, "zero turns it off");
        assert_eq!((s.http_header_read_timeout, s.max_connections), (Duration::from_secs(2), 10));
        let err = Settings::load(&cli(&[]), env(&[("ACCOUNTD_REQUEST_TIMEOUT", "soon")])).unwrap_err();
        assert!(format!("{err:#}").contains("request_timeout"), "{err:#}");
    }

    #[test]
    fn a_database_url_naming_neither_store_is_refused() {
        for bad in ["postgres:/h/db", "mysql://h/db", "postgresql+x://h/db", ""] {
            let err = Settings::load(&cli(&["--database-url", bad]), env(&[])).unwrap_err();
            assert!(err.to_string().contains("database_url"), "{bad}: {err}");
        }
        for good in ["sqlite:a.db", "sqlite://a.db?mode=rwc", "data/accountd.db", "postgresql://h/db"] {
            assert!(Settings::load(&cli(&["--database-url", good]), env(&[])).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_multi_host_database_url_is_accepted_and_a_malformed_one_refused_naming_the_setting() {
        let good = "postgres://u@10.0.0.1:5432,10.0.0.2:5433,[fd00::3]/accounts?target_session_attrs=read-write";
        let s = Settings::load(&cli(&["--database-url", good]), env(&[])).unwrap();
        assert_eq!(s.database_url, good);
        for (bad, reason) in [
            ("postgres://u@h1:5432,h2:x/db", "the port of host h2 must be 1–65535"),
            ("postgres://u@h1,h2/db?target_session_attrs=master", "target_session_attrs must be one of"),
            ("postgres://u@h1,,h2/db", "host 2 of the url is empty"),
        ] {
            let err = format!("{:#}", Settings::load(&cli(&["--database-url", bad]), env(&[])).unwrap_err());
            assert!(err.starts_with("invalid settings: invalid database_url: "), "{bad}: {err}");
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bad_address_or_unknown_key_is_refused() {
        assert!(
            Settings::load(&cli(&[]), env(&[("ACCOUNTD_HTTP_ADDR", "nowhere")]))
                .unwrap_err()
                .to_string()
                .contains("invalid settings")
        );
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "htp_addr = \"127.0.0.1:1\"").unwrap();
        let err = Settings::load(&cli(&["--config", file.path().to_str().unwrap()]), env(&[])).unwrap_err();
        assert!(format!("{err:#}").contains("htp_addr"), "{err:#}");
    }

    #[test]
    fn the_default_data_dir_is_the_users_never_the_working_directory() {
        let xdg = Settings::load(&cli(&[]), env(&[("XDG_DATA_HOME", "/data/ada")])).unwrap();
        assert_eq!(xdg.data_dir.to_str(), Some("/data/ada/accountd"));
        let relative = Settings::load(&cli(&[]), env(&[("XDG_DATA_HOME", "data")])).unwrap();
        assert_eq!(
            relative.data_dir.to_str(),
            Some("/home/ada/.local/share/accountd"),
            "a relative XDG path is ignored"
        );
        let no_home = Settings::load(&cli(&[]), Vec::new()).unwrap_err();
        assert!(format!("{no_home:#}").contains("--data-dir"), "{no_home:#}");
        let configured =
            Settings::load(&cli(&[]), vec![("ACCOUNTD_DATA_DIR".to_owned(), "/srv/a".to_owned())]).unwrap();
        assert_eq!(configured.data_dir.to_str(), Some("/srv/a"), "a configured one needs no HOME");
    }
}
