//! A throwaway PostgreSQL cluster for one test run: found binaries, a fresh data directory,
//! a free port, and a guard that stops the server and removes the directory when dropped.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where distribution packages (Debian, Ubuntu) put each PostgreSQL version's binaries.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";
/// The prefix of data directories made under the temporary directory.
const TMP_PREFIX: &str = "accountd-xtask-pg-";
/// The longest data directory path whose `.s.PGSQL.<port>` socket still fits in the
/// 107 usable bytes of a Unix socket address.
const MAX_DIR_LEN: usize = 91;
/// The user that runs the cluster when xtask runs as root.
const SERVER_USER: &str = "postgres";

/// `initdb` and `pg_ctl` from one installation, and how to run them.
#[derive(Debug)]
pub struct Binaries {
    dir: PathBuf,
    /// initdb and postgres refuse to run as root, so as root they run as `postgres`.
    as_server_user: bool,
}

impl Binaries {
    /// The first directory on PATH holding both binaries, else the highest version under
    /// /usr/lib/postgresql; `None` when there is none, or when running as root without a
    /// way to switch to the `postgres` user.
    pub fn find() -> Option<Binaries> {
        let on_path = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
        let dir = on_path
            .unwrap_or_default()
            .into_iter()
            .chain(highest_versioned_dir())
            .find(|dir| is_executable(&dir.join("initdb")) && is_executable(&dir.join("pg_ctl")))?;
        let as_server_user = is_root();
        if as_server_user && !can_run_as_server_user() {
            return None;
        }
        Some(Binaries { dir, as_server_user })
    }

    /// A command running `program` from this installation, as the server user when needed,
    /// from `cwd` (the server user may not be allowed into the caller's directory).
    fn command(&self, program: &str, cwd: &Path) -> Command {
        let path = self.dir.join(program);
        let mut command = if self.as_server_user {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", SERVER_USER, "--"]).arg(path);
            runuser
        } else {
            Command::new(path)
        };
        command.current_dir(cwd);
        command
    }

    /// The version pg_ctl reports, such as `15.8`.
    fn version(&self) -> String {
        Command::new(self.dir.join("pg_ctl"))
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| version_number(&String::from_utf8_lossy(&o.stdout)))
            .unwrap_or_else(|| "(unknown version)".to_owned())
    }

    /// Stops the server of the data directory `dir`, waiting until it is down.
    fn stop(&self, dir: &Path, mode: &str) -> Result<()> {
        run_quiet(self.command("pg_ctl", dir).arg("-D").arg(dir).args(["-m", mode, "stop"]), "pg_ctl stop")
    }
}

/// A running throwaway cluster; dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct Cluster {
    binaries: Binaries,
    dir: PathBuf,
    port: u16,
    version: String,
    /// target/xtask-pg, removed once the last cluster in it is gone; never the temporary
    /// directory itself.
    tidy_parent: Option<PathBuf>,
}

impl Cluster {
    /// Initialises a cluster in a fresh directory and starts it on a free port.
    pub fn start(binaries: Binaries, root: &Path) -> Result<Cluster> {
        sweep_stale(&binaries, root);
        let (dir, tidy_parent) = make_data_dir(&binaries, root)?;
        let version = binaries.version();
        // From here on dropping `cluster` removes the directory, so a failed start leaves
        // nothing behind.
        let mut cluster = Cluster { binaries, dir, port: 0, version, tidy_parent };
        cluster.init()?;
        cluster.port = free_port()?;
        cluster.launch()?;
        Ok(cluster)
    }

    /// The URL of the cluster's `postgres` database as the `postgres` superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Says what the cluster is and where it lives.
    pub fn describe(&self) -> String {
        format!("throwaway PostgreSQL {} cluster in {}", self.version, self.dir.display())
    }

    #[allow(dead_code, reason = "used by accountd-app's database-outage test, which includes this file")]
    /// Stops the server (`pg_ctl stop -m fast`: clients are disconnected), keeping its data,
    /// as when a database goes away; [`Cluster::restart`] brings it back on the same port.
    pub fn stop(&self) -> Result<()> {
        self.binaries.stop(&self.dir, "fast")
    }

    #[allow(dead_code, reason = "used by accountd-app's database-outage test, which includes this file")]
    /// Starts the stopped server again on its port, returning once it accepts connections.
    pub fn restart(&self) -> Result<()> {
        self.launch()
    }

    fn init(&self) -> Result<()> {
        // UTF8 and the C locale keep the cluster the same whatever the caller's locale is;
        // without them a POSIX locale yields SQL_ASCII.
        let mut initdb = self.binaries.command("initdb", &self.dir);
        initdb.arg("-D").arg(&self.dir);
        initdb.args(["-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"]);
        run_quiet(&mut initdb, "initdb")
    }

    fn launch(&self) -> Result<()> {
        let log = self.dir.join("log");
        // The options go through a shell inside pg_ctl; make_data_dir only accepts
        // directories whose paths need no quoting.
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let mut pg_ctl = self.binaries.command("pg_ctl", &self.dir);
        pg_ctl.arg("-D").arg(&self.dir).arg("-l").arg(&log).arg("-w").arg("-o").arg(options).arg("start");
        run_quiet(&mut pg_ctl, "pg_ctl start").with_context(|| {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            format!("the throwaway cluster did not start; the end of its log:\n{tail}")
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The pid file exists exactly while a server may be running, started fully or not.
        if self.dir.join("postmaster.pid").exists()
            && let Err(error) = self.binaries.stop(&self.dir, "fast")
        {
            eprintln!(
                "xtask: warning: could not stop the throwaway cluster ({error:#}); stop it with \
                 `pg_ctl -D {0} stop` and remove {0}",
                self.dir.display()
            );
            return;
        }
        if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!("xtask: warning: could not remove {}: {error}", self.dir.display());
        }
        if let Some(parent) = &self.tidy_parent {
            // This fails, harmlessly, while other runs still have clusters in it.
            let _ = fs::remove_dir(parent);
        }
    }
}

/// Makes an empty data directory the cluster's user can write: target/xtask-pg/<pid> if
/// possible, else <tmp>/accountd-xtask-pg-<pid> (`<pid>.<n>` for a process's n-th). Returns it with the parent to tidy up.
fn make_data_dir(binaries: &Binaries, root: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    // The first cluster of a process is named after its pid, the next ones `<pid>.<n>`: a
    // test may run several (a primary and its replacement).
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let pid = match STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
        0 => std::process::id().to_string(),
        n => format!("{}.{n}", std::process::id()),
    };
    let in_target = root.join("target").join("xtask-pg");
    let candidates =
        [(in_target.join(&pid), Some(in_target)), (std::env::temp_dir().join(format!("{TMP_PREFIX}{pid}")), None)];
    for (dir, tidy_parent) in candidates {
        if !is_plain_short_path(&dir) {
            continue;
        }
        // A directory with this run's pid can only be a leftover of a dead earlier run.
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("could not remove the leftover {}", dir.display()))?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        if !binaries.as_server_user || hand_to_server_user(&dir) {
            return Ok((dir, tidy_parent));
        }
        // The server user cannot reach this directory, typically because an ancestor is
        // private to root; the next candidate may do.
        let _ = fs::remove_dir_all(&dir);
    }
    bail!(
        "found no directory for the throwaway cluster that the `{SERVER_USER}` user can write, with a path \
         of at most {MAX_DIR_LEN} plain characters, under target/ or {}",
        std::env::temp_dir().display()
    )
}

/// Gives `dir` to the server user and says whether that user can now write in it.
fn hand_to_server_user(dir: &Path) -> bool {
    let chowned = Command::new("chown").args(["-R", SERVER_USER]).arg(dir).output().is_ok_and(|o| o.status.success());
    chowned
        && Command::new("runuser")
            .args(["-u", SERVER_USER, "--", "test", "-w"])
            .arg(dir)
            .current_dir("/")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Whether `path` is short enough for the server's socket and contains nothing a shell
/// would treat specially, since pg_ctl passes it through one.
fn is_plain_short_path(path: &Path) -> bool {
    path.to_str()
        .is_some_and(|p| p.len() <= MAX_DIR_LEN && p.chars().all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c)))
}

/// Stops and removes clusters left by earlier runs that died before their guard ran, as
/// Ctrl-C does: their data directory is named after a process that no longer exists.
fn sweep_stale(binaries: &Binaries, root: &Path) {
    // Telling live processes from dead ones needs /proc; elsewhere leftovers stay.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let in_target = root.join("target").join("xtask-pg");
    let mut stale = Vec::new();
    for (parent, prefix) in [(in_target.as_path(), ""), (std::env::temp_dir().as_path(), TMP_PREFIX)] {
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(owner) = owner
                && owner != std::process::id()
                && !Path::new(&format!("/proc/{owner}")).exists()
            {
                stale.push(entry.path());
            }
        }
    }
    for dir in stale {
        if server_running_in(&dir)
            && let Err(error) = binaries.stop(&dir, "immediate")
        {
            eprintln!("xtask: warning: could not stop the leftover cluster in {}: {error:#}", dir.display());
            continue;
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => eprintln!("xtask: removed a throwaway cluster left by an earlier run in {}", dir.display()),
            Err(error) => eprintln!("xtask: warning: could not remove {}: {error}", dir.display()),
        }
    }
}

/// Whether the postmaster that `dir`'s pid file names is alive and serves `dir`; checking
/// its command line keeps a recycled pid from getting a stop signal meant for a dead server.
fn server_running_in(dir: &Path) -> bool {
    let Ok(pid_file) = fs::read_to_string(dir.join("postmaster.pid")) else {
        return false;
    };
    let Some(pid) = pid_file.lines().next().and_then(|l| l.trim().parse::<u32>().ok()) else {
        return false;
    };
    let Ok(command_line) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let wanted = dir.as_os_str().as_encoded_bytes();
    command_line.split(|&b| b == 0).any(|arg| arg == wanted)
}

/// `program` from the first directory on PATH that has it, else from the highest
/// /usr/lib/postgresql/<version>/bin.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    on_path
        .unwrap_or_default()
        .into_iter()
        .chain(highest_versioned_dir())
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

/// The directory of the highest PostgreSQL version under /usr/lib/postgresql, if any.
fn highest_versioned_dir() -> Option<PathBuf> {
    let names = fs::read_dir(VERSIONED_ROOT)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| Path::new(VERSIONED_ROOT).join(name).join("bin").is_dir());
    highest_version(names).map(|name| Path::new(VERSIONED_ROOT).join(name).join("bin"))
}

/// The name that reads as the highest dotted version number (`16` beats `9.6`); names
/// that are not version numbers are ignored.
fn highest_version<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Option<S> {
    names
        .into_iter()
        .filter_map(|name| {
            let version: Option<Vec<u32>> = name.as_ref().split('.').map(|part| part.parse().ok()).collect();
            version.map(|v| (v, name))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, name)| name)
}

/// The version number in `pg_ctl --version` output, which reads like
/// `pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`.
fn version_number(output: &str) -> Option<String> {
    let mut words = output.split_whitespace();
    words.find(|&w| w == "(PostgreSQL)")?;
    words.next().map(str::to_owned)
}

/// Whether the effective user is root, as `id -u` reports it.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether runuser exists and can run a command as the server user.
fn can_run_as_server_user() -> bool {
    Command::new("runuser")
        .args(["-u", SERVER_USER, "--", "true"])
        .current_dir("/")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("could not find a free TCP port")?;
    Ok(listener.local_addr().context("could not read the free port")?.port())
}

/// Runs `command` with its output captured, and fails with that output if it fails.
fn run_quiet(command: &mut Command, name: &str) -> Result<()> {
    let output = command.output().with_context(|| format!("could not run {name}"))?;
    if !output.status.success() {
        bail!(
            "{name} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_version_wins_numerically() {
        assert_eq!(highest_version(["9.6", "15", "16", "10"]), Some("16"));
        assert_eq!(highest_version(["9.6", "10"]), Some("10"));
        assert_eq!(highest_version(["9.5", "9.6"]), Some("9.6"));
    }

    #[test]
    fn names_that_are_not_versions_are_ignored() {
        assert_eq!(highest_version(["common", "15", "16beta1", ""]), Some("15"));
        assert_eq!(highest_version(Vec::<&str>::new()), None);
        assert_eq!(highest_version(["common"]), None);
    }

    #[test]
    fn the_version_number_is_read_from_pg_ctl() {
        let debian = "pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n";
        assert_eq!(version_number(debian).as_deref(), Some("15.20"));
        assert_eq!(version_number("pg_ctl (PostgreSQL) 17.2\n").as_deref(), Some("17.2"));
        assert_eq!(version_number(""), None);
    }

    #[test]
    fn only_plain_short_paths_hold_a_cluster() {
        assert!(is_plain_short_path(Path::new("/work/main/target/xtask-pg/1234")));
        assert!(!is_plain_short_path(Path::new("/home/a user/target/xtask-pg/1234")));
        assert!(!is_plain_short_path(Path::new("/work/it's/target/xtask-pg/1234")));
        let long = format!("/{}", "d".repeat(MAX_DIR_LEN));
        assert!(!is_plain_short_path(Path::new(&long)));
    }
}
