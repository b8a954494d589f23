//! A throwaway pg_auto_failover formation on loopback ports: a monitor and two PostgreSQL 15
//! nodes with synchronous replication (pg_auto_failover's default with one standby:
//! `synchronous_standby_names = 'ANY 1 (…)'`), each run by its `pg_autoctl run` keeper, as
//! the `postgres` user when this runs as root (PostgreSQL refuses root). Dropping it stops
//! every keeper and removes the directory.

use std::fs::{self, File};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// pg_auto_failover's Debian package is built for this PostgreSQL.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const SERVER_USER: &str = "postgres";

/// The monitor's health checks and demote timeout, shortened so that a dead primary is
/// failed over in seconds: by default the monitor waits `primary_demote_timeout` (30 s) for
/// an unreachable primary to demote itself before it promotes the standby, and notices a
/// dead node after 20 s. docs/scaling.md reports both.
const FAST_HEALTH_CHECKS: [(&str, u32); 6] = [
    ("pgautofailover.primary_demote_timeout", 5000),
    ("pgautofailover.health_check_period", 1000),
    ("pgautofailover.health_check_timeout", 1000),
    ("pgautofailover.health_check_max_retries", 1),
    ("pgautofailover.health_check_retry_delay", 500),
    ("pgautofailover.node_considered_unhealthy_timeout", 3000),
];

/// One keeper (`pg_autoctl run`) and the data directory it serves.
#[derive(Debug)]
struct Keeper {
    pgdata: PathBuf,
    port: u16,
    child: Option<Child>,
}

#[derive(Debug)]
pub struct Formation {
    dir: PathBuf,
    as_server_user: bool,
    monitor: Keeper,
    pub nodes: [u16; 2],
    keepers: Vec<Keeper>,
}

impl Formation {
    /// Creates and starts the monitor and both nodes, returning once one is primary and the
    /// other a synchronous secondary.
    pub async fn start(dir: &Path, ports: [u16; 3]) -> Result<Self> {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("removing the leftover {}", dir.display()))?;
        }
        fs::create_dir_all(dir)?;
        let as_server_user = is_root();
        if as_server_user {
            run(Command::new("chown").args(["-R", SERVER_USER]).arg(dir), "chown")?;
        }
        let keeper = |name: &str, port| Keeper { pgdata: dir.join(name), port, child: None };
        let mut formation = Formation {
            dir: dir.to_owned(),
            as_server_user,
            monitor: keeper("monitor", ports[0]),
            nodes: [ports[1], ports[2]],
            keepers: vec![keeper("node1", ports[1]), keeper("node2", ports[2])],
        };
        formation.create_monitor().await?;
        for index in 0..2 {
            formation.create_node(index).await?;
        }
        formation.wait_for_states(&["primary", "secondary"], Duration::from_secs(120)).await?;
        Ok(formation)
    }

    fn autoctl(&self) -> Command {
        autoctl(&self.dir, self.as_server_user)
    }

    fn monitor_url(&self) -> String {
        format!("postgres://autoctl_node@127.0.0.1:{}/pg_auto_failover?sslmode=disable", self.monitor.port)
    }

    /// The libpq multi-host URL of both nodes, for accountd.
    pub fn database_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write&connect_timeout=2",
            self.nodes[0], self.nodes[1]
        )
    }

    async fn create_monitor(&mut self) -> Result<()> {
        let pgdata = self.monitor.pgdata.clone();
        let port = self.monitor.port.to_string();
        let mut create = self.autoctl();
        create.args(["create", "monitor", "--pgctl", &format!("{PG_BIN}/pg_ctl"), "--pgdata"]).arg(&pgdata);
        create.args(["--pgport", &port, "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl"]);
        run_logged(&mut create, &self.dir.join("monitor-create.log"), "pg_autoctl create monitor")?;
        self.monitor.child = Some(self.spawn_run(&pgdata, "monitor")?);
        let url = format!("postgres://postgres@127.0.0.1:{port}/pg_auto_failover");
        let mut admin = connect_within(&url, Duration::from_secs(30)).await.context("the monitor")?;
        for (setting, value) in FAST_HEALTH_CHECKS {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ALTER SYSTEM SET {setting} = {value}")))
                .execute(&mut admin)
                .await
                .with_context(|| format!("setting {setting}"))?;
        }
        sqlx::query("SELECT pg_reload_conf()").execute(&mut admin).await?;
        Ok(())
    }

    async fn create_node(&mut self, index: usize) -> Result<()> {
        let pgdata = self.keepers[index].pgdata.clone();
        let port = self.keepers[index].port.to_string();
        let name = format!("node{}", index + 1);
        let mut create = self.autoctl();
        create.args(["create", "postgres", "--pgctl", &format!("{PG_BIN}/pg_ctl"), "--pgdata"]).arg(&pgdata);
        create.args(["--pgport", &port, "--hostname", "127.0.0.1", "--name", &name, "--auth", "trust", "--no-ssl"]);
        create.args(["--monitor", &self.monitor_url()]);
        run_logged(&mut create, &self.dir.join(format!("{name}-create.log")), "pg_autoctl create postgres")?;
        self.keepers[index].child = Some(self.spawn_run(&pgdata, &name)?);
        let wanted: &[&str] = if index == 0 { &["single"] } else { &["primary", "secondary"] };
        self.wait_for_states(wanted, Duration::from_secs(120)).await
    }

    /// Starts `pg_autoctl run` for `pgdata` in a process group of its own, so a hard kill
    /// reaches the keeper and everything it started.
    fn spawn_run(&self, pgdata: &Path, name: &str) -> Result<Child> {
        let log = File::create(self.dir.join(format!("{name}.log")))?;
        let mut run = self.autoctl();
        run.args(["run", "--pgdata"]).arg(pgdata);
        run.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0);
        run.spawn().context("starting pg_autoctl run")
    }

    /// The nodes' (port, reported state, assigned state), as the monitor knows them.
    pub async fn states(&self) -> Result<Vec<(u16, String, String)>> {
        let mut monitor = PgConnection::connect(&self.monitor_url()).await?;
        let rows: Vec<(i32, String, String)> = sqlx::query_as(
            "SELECT nodeport, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid",
        )
        .fetch_all(&mut monitor)
        .await?;
        Ok(rows.into_iter().map(|(port, reported, goal)| (port as u16, reported, goal)).collect())
    }

    /// Waits until the nodes report exactly `wanted` (in any order), each as assigned.
    pub async fn wait_for_states(&self, wanted: &[&str], limit: Duration) -> Result<()> {
        let started = Instant::now();
        let mut last = Vec::new();
        while started.elapsed() < limit {
            if let Ok(states) = self.states().await {
                let mut reported: Vec<&str> =
                    states.iter().filter(|(_, r, g)| r == g).map(|(_, r, _)| r.as_str()).collect();
                reported.sort_unstable();
                let mut expected = wanted.to_vec();
                expected.sort_unstable();
                if reported == expected && states.len() == wanted.len() {
                    return Ok(());
                }
                last = states;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!("the formation did not reach {wanted:?} within {limit:?}; last seen {last:?}")
    }

    /// The port of the node the monitor says is primary (or wait_primary).
    pub async fn primary(&self) -> Result<u16> {
        let states = self.states().await?;
        states
            .iter()
            .find(|(_, reported, _)| reported == "primary" || reported == "wait_primary")
            .map(|(port, _, _)| *port)
            .with_context(|| format!("no primary in {states:?}"))
    }

    /// `pg_autoctl perform failover` on the formation in `dir`: the planned switch, which
    /// returns once it is done (blocking; a function of the directory alone, so it can run
    /// on a blocking thread while the formation's keepers stay with their owner).
    pub fn perform_failover_in(dir: &Path) -> Result<()> {
        let mut failover = autoctl(dir, is_root());
        failover.args(["perform", "failover", "--pgdata"]).arg(dir.join("monitor"));
        run_logged(&mut failover, &dir.join("perform-failover.log"), "pg_autoctl perform failover")
    }

    /// A crash of the primary's machine: SIGKILL to its postmaster and to its keeper's whole
    /// process group, so nothing restarts it. Returns the killed node's port.
    pub async fn kill_primary(&mut self) -> Result<u16> {
        let port = self.primary().await?;
        let keeper = self.keepers.iter_mut().find(|k| k.port == port).context("the primary's keeper")?;
        let pid_file = fs::read_to_string(keeper.pgdata.join("postmaster.pid")).context("the postmaster's pid")?;
        let postmaster = pid_file.lines().next().unwrap_or_default().trim().to_owned();
        run(Command::new("kill").args(["-KILL", &postmaster]), "kill the postmaster")?;
        if let Some(mut child) = keeper.child.take() {
            run(Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]), "kill the keeper")?;
            let _ = child.wait();
        }
        Ok(port)
    }
}

impl Drop for Formation {
    fn drop(&mut self) {
        // The nodes first, then the monitor.
        let mut keepers = std::mem::take(&mut self.keepers);
        let monitor =
            Keeper { pgdata: self.monitor.pgdata.clone(), port: self.monitor.port, child: self.monitor.child.take() };
        keepers.push(monitor);
        for mut keeper in keepers {
            if let Some(mut child) = keeper.child.take() {
                let mut stop = self.autoctl();
                stop.args(["stop", "--immediate", "--pgdata"]).arg(&keeper.pgdata);
                let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
                let _ = child.wait();
            }
            // A node killed earlier may have left backends that outlive their postmaster.
            if let Ok(pid_file) = fs::read_to_string(keeper.pgdata.join("postmaster.pid"))
                && let Some(pid) = pid_file.lines().next()
            {
                let _ = Command::new("kill").args(["-KILL", pid.trim()]).stderr(Stdio::null()).status();
            }
        }
        if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!("accountd-ha: could not remove {}: {error}", self.dir.display());
        }
    }
}

/// `pg_autoctl` for the formation in `dir`, with the XDG directories it keeps state in
/// under `dir`, as the server user when needed.
fn autoctl(dir: &Path, as_server_user: bool) -> Command {
    let xdg = |name: &str| dir.join("xdg").join(name);
    let mut command = if as_server_user {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", SERVER_USER, "--", "pg_autoctl"]);
        runuser
    } else {
        Command::new("pg_autoctl")
    };
    let path = std::env::var("PATH").unwrap_or_default();
    command
        .current_dir(dir)
        .env("PATH", format!("{PG_BIN}:{path}"))
        .env("XDG_CONFIG_HOME", xdg("config"))
        .env("XDG_DATA_HOME", xdg("data"))
        .env("XDG_RUNTIME_DIR", xdg("run"));
    command
}

/// Connects to `url`, retrying until `limit`.
async fn connect_within(url: &str, limit: Duration) -> Result<PgConnection> {
    let started = Instant::now();
    loop {
        match PgConnection::connect(url).await {
            Ok(connection) => return Ok(connection),
            Err(error) if started.elapsed() > limit => return Err(error).context("connecting"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(command: &mut Command, name: &str) -> Result<()> {
    let output = command.output().with_context(|| format!("could not run {name}"))?;
    if !output.status.success() {
        bail!("{name} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// Runs `command` with its output in `log`, and fails with the end of the log if it fails.
fn run_logged(command: &mut Command, log: &Path, name: &str) -> Result<()> {
    let file = File::create(log)?;
    let status = command.stdout(file.try_clone()?).stderr(file).status().with_context(|| format!("running {name}"))?;
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        bail!(
            "{name} failed ({status}); the end of {}:\n{}",
            log.display(),
            lines[lines.len().saturating_sub(15)..].join("\n")
        );
    }
    Ok(())
}
