//! accountd's developer workflows, run as `cargo xtask <command>`: the command line, its
//! dispatch, and the cargo invocations each command is made of.

mod browser;
mod cluster;
mod postgres;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::{Context, Result};

const USAGE: &str = "\
Usage: cargo xtask <command> [args]

Commands:
  test [ARGS]  Run every test of the workspace, PostgreSQL ones included. ARGS go to
               `cargo test` as they are (with -p/--package, only those packages run).
  ci           `cargo fmt --all -- --check`, then
               `cargo clippy --workspace --all-targets -- -D warnings`, then `test`;
               stops at the first failure.
  bench [--quick] [ARGS]
               Build accountd and accountd-bench in release mode, then measure accountd
               against pgbench running the SQL it issues, on a fresh database
               `accountd_bench` of the server below; writes target/bench/report.md and
               report.svg. --quick is a one-minute smoke run; ARGS go to accountd-bench
               (--accounts, --users, --audit-events, --seconds, --connections, --depth,
               --rust-log).
               See docs/benchmarks.md.
  ha [ARGS]    The HA run: install pg_auto_failover (postgresql-15-auto-failover,
               pg-auto-failover-cli) with apt-get when missing, build accountd and
               accountd-ha, then run two accountd instances on a multi-host URL over a
               pg_auto_failover monitor + two nodes (synchronous replication) under load,
               through a planned failover and a SIGKILL of the primary; prints the
               figures and the invariant checks, writes target/ha/report.md. Not part of
               `test` or `ci` (about two minutes, needs root or the `postgres` user's
               cluster tools). ARGS go to accountd-ha (--workers, --steady). See
               docs/scaling.md.
  help         Print this text.

The console's browser tests need chromium and chromium-driver (/usr/bin/chromedriver):
`test` installs them with apt-get when missing (as root; otherwise it fails and says so).

PostgreSQL for the tests (and the bench) is the first of these that works (they never skip):
  1. DATABASE_URL, when set and non-empty; its host:port must answer.
  2. A server on 127.0.0.1:5432, as postgres://postgres@127.0.0.1:5432/postgres.
  3. A throwaway cluster made with initdb and pg_ctl from PATH or the highest
     /usr/lib/postgresql/<version>/bin, in target/xtask-pg/<pid> (or /tmp), stopped
     and removed afterwards. As root, it runs as the `postgres` user via runuser.

Environment:
  DATABASE_URL                  The server for PostgreSQL tests (way 1 above).
  XTASK_PG_FORCE_THROWAWAY=1    Skip ways 1 and 2: always start a throwaway cluster.
  CARGO                         The cargo binary to run (cargo sets it itself).
";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();
    let name = command.as_ref().map(|c| c.to_string_lossy());
    let outcome = match name.as_deref() {
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("test") => test(&rest),
        Some("bench") => bench(&rest),
        Some("ha") => ha(&rest),
        Some("ci") if rest.is_empty() => ci(),
        Some("ci") => {
            eprintln!("xtask: `ci` takes no arguments\n\n{USAGE}");
            return ExitCode::from(2);
        }
        Some(unknown) => {
            eprintln!("xtask: unknown command `{unknown}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask test`: finds or starts PostgreSQL, then runs `cargo test` against it.
fn test(extra: &[OsString]) -> Result<ExitCode> {
    let root = workspace_root()?;
    // The console's browser tests need Debian's chromium and chromedriver.
    browser::provide()?;
    // The throwaway cluster, if one is started, lives exactly as long as this binding, so it
    // is stopped and removed on every way out of this function, failed tests included.
    let server = postgres::provide(&root)?;
    eprintln!("xtask: PostgreSQL tests use {}", server.describe());
    let mut cargo = cargo(&root);
    cargo.arg("test");
    if !selects_packages(extra) {
        cargo.arg("--workspace");
    }
    cargo.args(extra).env("DATABASE_URL", server.url());
    let status = run(&mut cargo, "cargo test")?;
    drop(server);
    Ok(exit_code(status))
}

/// `cargo xtask bench`: finds or starts PostgreSQL, builds the release binaries, and runs
/// the harness, which does the rest (bench/src/main.rs).
fn bench(extra: &[OsString]) -> Result<ExitCode> {
    let root = workspace_root()?;
    let server = postgres::provide(&root)?;
    eprintln!("xtask: the bench uses {}", server.describe());
    let build = ["build", "--release", "-p", "accountd-app", "-p", "accountd-bench"];
    let status = run(cargo(&root).args(build), "cargo build --release")?;
    if !status.success() {
        return Ok(exit_code(status));
    }
    let pgbench =
        cluster::find_program("pgbench").context("pgbench is needed: install postgresql-contrib or the server")?;
    let release = root.join("target").join("release");
    let mut harness = Command::new(release.join("accountd-bench"));
    harness
        .current_dir(&root)
        .arg("--accountd")
        .arg(release.join("accountd"))
        .arg("--database-url")
        .arg(server.url())
        .arg("--out")
        .arg(root.join("target").join("bench"))
        .arg("--pgbench")
        .arg(pgbench)
        .args(extra);
    let status = run(&mut harness, "accountd-bench")?;
    drop(server);
    Ok(exit_code(status))
}

/// The Debian packages of pg_auto_failover for PostgreSQL 15: the extension and pg_autoctl.
const PG_AUTO_FAILOVER_PACKAGES: [&str; 2] = ["postgresql-15-auto-failover", "pg-auto-failover-cli"];

/// `cargo xtask ha`: installs pg_auto_failover when missing, builds accountd and the HA
/// harness, and runs the harness (bench/src/ha/main.rs), which does the rest.
fn ha(extra: &[OsString]) -> Result<ExitCode> {
    let root = workspace_root()?;
    let installed = Command::new("pg_autoctl").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("xtask: installing {}", PG_AUTO_FAILOVER_PACKAGES.join(" "));
        let mut update = Command::new("apt-get");
        update.args(["update", "-q"]);
        let mut install = Command::new("apt-get");
        install.args(["install", "-y", "-q"]).args(PG_AUTO_FAILOVER_PACKAGES).env("DEBIAN_FRONTEND", "noninteractive");
        for (name, command) in [("apt-get update", &mut update), ("apt-get install", &mut install)] {
            let status = run(command, name)?;
            anyhow::ensure!(
                status.success(),
                "`{name}` failed ({status}); pg_auto_failover is needed for `cargo xtask ha`"
            );
        }
    }
    // A debug build: the run measures failover, not throughput, and reuses the test build.
    let build = ["build", "-p", "accountd-app", "-p", "accountd-bench", "--bin", "accountd", "--bin", "accountd-ha"];
    let status = run(cargo(&root).args(build), "cargo build")?;
    if !status.success() {
        return Ok(exit_code(status));
    }
    let debug = root.join("target").join("debug");
    let out = root.join("target").join("ha");
    let mut harness = Command::new(debug.join("accountd-ha"));
    harness
        .current_dir(&root)
        .arg("--accountd")
        .arg(debug.join("accountd"))
        .arg("--out")
        .arg(&out)
        .args(extra)
        // Both instances share one data directory, and so the MFA key bootstrap generates
        // there; never the developer's own.
        .env("ACCOUNTD_DATA_DIR", out.join("data"))
        .env_remove("ACCOUNTD_MFA_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("ACCOUNTD_DATABASE_URL");
    let status = run(&mut harness, "accountd-ha")?;
    Ok(exit_code(status))
}

/// `cargo xtask ci`: formatting, lints, then every test.
fn ci() -> Result<ExitCode> {
    let root = workspace_root()?;
    let steps: [(&str, &[&str]); 2] = [
        ("cargo fmt --all -- --check", &["fmt", "--all", "--", "--check"]),
        (
            "cargo clippy --workspace --all-targets -- -D warnings",
            &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        ),
    ];
    for (name, args) in steps {
        eprintln!("xtask: {name}");
        let status = run(cargo(&root).args(args), name)?;
        if !status.success() {
            eprintln!("xtask: `{name}` failed");
            return Ok(exit_code(status));
        }
    }
    eprintln!("xtask: cargo xtask test");
    test(&[])
}

/// Whether `cargo test` arguments pick packages themselves; cargo ignores `-p` next to
/// `--workspace`, so `--workspace` must only be added when they do not.
fn selects_packages(args: &[OsString]) -> bool {
    args.iter()
        .map(|a| a.to_string_lossy())
        // Arguments after `--` belong to the test binaries, not to cargo.
        .take_while(|a| a != "--")
        .any(|a| a == "--package" || a.starts_with("--package=") || a.starts_with("-p"))
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> Result<PathBuf> {
    // Cargo sets CARGO_MANIFEST_DIR for `cargo run` too; the compile-time value covers
    // running the binary directly.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .with_context(|| format!("{} has no parent directory", manifest_dir.display()))
}

/// A cargo command run from the workspace root, with the cargo that runs xtask.
fn cargo(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(root);
    command
}

/// Runs `command` with inherited stdio and returns its status.
fn run(command: &mut Command, name: &str) -> Result<ExitStatus> {
    command.status().with_context(|| format!("could not run `{name}`"))
}

/// The exit code that passes `status` on; a child killed by a signal counts as a failure.
fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => u8::try_from(code).ok().filter(|&c| c != 0).map_or(ExitCode::FAILURE, ExitCode::from),
        None => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn package_selection_is_recognised_in_every_spelling() {
        assert!(selects_packages(&args(&["-p", "accountd-postgres"])));
        assert!(selects_packages(&args(&["-paccountd-sqlite"])));
        assert!(selects_packages(&args(&["--package", "accountd-sqlite"])));
        assert!(selects_packages(&args(&["--package=accountd-sqlite"])));
    }

    #[test]
    fn other_arguments_keep_the_whole_workspace() {
        assert!(!selects_packages(&args(&[])));
        assert!(!selects_packages(&args(&["--release", "conformance"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
    }
}
