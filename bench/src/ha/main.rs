//! `accountd-ha`, run by `cargo xtask ha`: two accountd instances on a libpq multi-host URL
//! over a pg_auto_failover formation (monitor + two nodes, synchronous replication), a
//! bounded create-and-read load, then (a) a planned `pg_autoctl perform failover` and (b) a
//! SIGKILL of the primary's postmaster and keeper. Reports what the clients saw around each
//! event and checks the invariants afterwards (docs/scaling.md has the figures); exits
//! non-zero if any client saw a status other than 2xx and 503, or an invariant fails.

#[allow(dead_code, reason = "the bench's process wrapper, included whole; this harness uses part of it")]
#[path = "../accountd.rs"]
mod accountd;
mod checks;
mod formation;
#[allow(dead_code, reason = "the bench's HTTP client, which accountd.rs uses to probe readiness")]
#[path = "../load.rs"]
mod load;
#[allow(dead_code, reason = "needed by load.rs")]
#[path = "../stats.rs"]
mod stats;
mod traffic;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use sqlx::Connection as _;

use crate::accountd::Accountd;
use crate::formation::Formation;
use crate::traffic::Window;

#[derive(Debug, Parser)]
#[command(about = "accountd over a pg_auto_failover formation, through a planned failover and a hard kill")]
struct Args {
    /// The accountd binary.
    #[arg(long)]
    accountd: PathBuf,
    /// Where the report and the logs go.
    #[arg(long)]
    out: PathBuf,
    /// Concurrent clients, spread over the two instances.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Seconds of steady load before the first event and after each recovery.
    #[arg(long, default_value_t = 5)]
    steady: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let ports = [free_port()?, free_port()?, free_port()?];
    let dir = std::env::temp_dir().join(format!("accountd-ha-{}", std::process::id()));
    eprintln!("accountd-ha: creating the pg_auto_failover formation in {}", dir.display());
    let started = Instant::now();
    let mut formation = Formation::start(&dir, ports).await?;
    let formation_took = started.elapsed();
    let first_primary = formation.primary().await?;
    let sync_names = show(first_primary, "synchronous_standby_names").await?;
    let url = formation.database_url();
    eprintln!("accountd-ha: formation up in {formation_took:?}; primary on {first_primary}; accountd uses {url}");

    let token = bootstrap(&args.accountd, &url)?;
    let a = Accountd::start(&args.accountd, &url, &args.out.join("accountd-a.log"), None).await?;
    let b = Accountd::start(&args.accountd, &url, &args.out.join("accountd-b.log"), None).await?;
    let bases = vec![format!("http://{}", a.http), format!("http://{}", b.http)];

    let stop = Arc::new(AtomicBool::new(false));
    let run_id = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    let load_started = Instant::now();
    let load = tokio::spawn(traffic::run(bases, token, args.workers, run_id, stop.clone()));
    let steady = Duration::from_secs(args.steady);
    tokio::time::sleep(steady).await;

    eprintln!("accountd-ha: (a) pg_autoctl perform failover");
    let planned_at = Instant::now();
    let switch = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || Formation::perform_failover_in(&dir)
    });
    switch.await??;
    let planned_done = planned_at.elapsed();
    formation.wait_for_states(&["primary", "secondary"], Duration::from_secs(120)).await?;
    let second_primary = formation.primary().await?;
    tokio::time::sleep(steady).await;

    eprintln!("accountd-ha: (b) SIGKILL of the primary's postmaster and keeper");
    let killed_at = Instant::now();
    let killed = formation.kill_primary().await?;
    let promoted_after = wait_for_new_primary(&formation, killed).await?;
    tokio::time::sleep(steady * 2).await;
    let ended = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let record = load.await?;
    let final_primary = formation.primary().await?;

    let planned = traffic::window(&record.answers, planned_at, killed_at);
    let crash = traffic::window(&record.answers, killed_at, ended);
    let checks = checks::run(&format!("postgres://postgres@127.0.0.1:{final_primary}/postgres"), &record).await?;
    let bad_statuses: Vec<u16> =
        record.answers.iter().map(|a| a.status).filter(|s| !(200..300).contains(s) && *s != 503).collect();

    let mut report = String::new();
    writeln!(report, "# accountd over pg_auto_failover: `cargo xtask ha`\n")?;
    writeln!(
        report,
        "Formation: monitor + 2 PostgreSQL 15 nodes on loopback, `synchronous_standby_names = '{sync_names}'`, \
         created in {:.1} s; monitor health checks shortened (period 1 s, unhealthy after 3 s, \
         primary_demote_timeout 5 s instead of 30 s). Two accountd \
         instances on `{url}`; {} clients creating accounts with an Idempotency-Key (retried every 100 ms until \
         acknowledged) and reading each back; {} answers in all over {:.0} s.\n",
        formation_took.as_secs_f64(),
        args.workers,
        record.answers.len(),
        (ended - started).as_secs_f64() - formation_took.as_secs_f64()
    )?;
    writeln!(
        report,
        "| event | some client waiting on a failing request | last failure answered after | first write acknowledged after it | failed / answers | failed answers by status | slowest failed answer |"
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---|---:|")?;
    for (name, window) in [
        (
            format!(
                "(a) planned failover {first_primary} → {second_primary} (pg_autoctl took {:.1} s)",
                planned_done.as_secs_f64()
            ),
            &planned,
        ),
        (
            format!("(b) SIGKILL of {killed}, {final_primary} promoted after {:.1} s", promoted_after.as_secs_f64()),
            &crash,
        ),
    ] {
        writeln!(report, "{}", row(&name, window))?;
    }
    writeln!(report, "\nInvariants on the surviving primary ({final_primary}):\n")?;
    writeln!(
        report,
        "- acknowledged creates: {}; missing: {}; stored twice: {}; stored with another id: {}",
        checks.acknowledged,
        checks.missing.len(),
        checks.duplicated.len(),
        checks.wrong_id.len()
    )?;
    writeln!(
        report,
        "- creates retried after an ambiguous failure (no answer or 5xx) and then acknowledged: {}; replays answering another id: {}",
        checks.retried_after_ambiguous_failure,
        checks.replays_disagree.len()
    )?;
    writeln!(
        report,
        "- keys never acknowledged (load stopped mid-retry): {}, of which applied: {}",
        checks.unacknowledged_keys, checks.unacknowledged_applied
    )?;
    writeln!(
        report,
        "- accounts without their owner's membership: {}; without their account.create audit event: {}; with two: {}",
        checks.without_owner, checks.without_audit, checks.audit_twice
    )?;
    writeln!(report, "- reads of an acknowledged account answering 404: {}", checks.lost_reads)?;
    writeln!(report, "- answers other than 2xx and 503: {}", bad_statuses.len())?;
    let passed = checks.passed() && bad_statuses.is_empty();
    writeln!(report, "\nResult: {}", if passed { "PASS" } else { "FAIL" })?;
    print!("{report}");
    std::fs::write(args.out.join("report.md"), &report)?;
    std::fs::write(args.out.join("answers.csv"), traffic::csv(&record.answers, load_started))?;
    drop((a, b));
    drop(formation);
    if !passed {
        bail!("the HA run failed: {checks:?}; statuses other than 2xx/503: {bad_statuses:?}");
    }
    Ok(())
}

fn row(name: &str, window: &Window) -> String {
    let statuses: Vec<String> = window
        .statuses
        .iter()
        .map(|(s, n)| format!("{}×{n}", if *s == 0 { "no answer".to_owned() } else { s.to_string() }))
        .collect();
    format!(
        "| {name} | {:.2} s | {:.2} s | {:.2} s | {} / {} | {} | {:.2} s |",
        window.unavailable.as_secs_f64(),
        window.last_failure_after.as_secs_f64(),
        window.recovered_after.as_secs_f64(),
        window.failed,
        window.total,
        if statuses.is_empty() { "—".to_owned() } else { statuses.join(", ") },
        window.longest_failure.as_secs_f64()
    )
}

/// Waits until a node other than `killed` is primary (or wait_primary: writable, with no
/// standby to wait for), returning how long that took.
async fn wait_for_new_primary(formation: &Formation, killed: u16) -> Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(states) = formation.states().await
            && states.iter().any(|(port, reported, goal)| {
                *port != killed && matches!(reported.as_str(), "primary" | "wait_primary") && reported == goal
            })
        {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no node was promoted within 120 s of the kill")
}

/// `SHOW setting` on the node at `port`.
async fn show(port: u16, setting: &str) -> Result<String> {
    let mut db = sqlx::PgConnection::connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres")).await?;
    let (value,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SHOW {setting}"))).fetch_one(&mut db).await?;
    Ok(value)
}

/// `accountd bootstrap`: migrates through the multi-host URL and prints the root token.
fn bootstrap(binary: &std::path::Path, url: &str) -> Result<String> {
    let output = Command::new(binary)
        .args(["bootstrap", "--email", "admin@example.com"])
        .env("ACCOUNTD_DATABASE_URL", url)
        .output()
        .context("running accountd bootstrap")?;
    if !output.status.success() {
        bail!("accountd bootstrap failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
