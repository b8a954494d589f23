//! The accountd process under test: started from the release binary on a database URL,
//! with its logs in a file, probed until ready, measured through /proc, stopped on drop.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::load::{Connection, HttpRequest};

/// A running `accountd serve`.
#[derive(Debug)]
pub struct Accountd {
    child: Child,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub log: PathBuf,
}

impl Accountd {
    /// Starts `binary serve` on `database_url`, logging JSON to `log` filtered by `rust_log`
    /// (accountd's default filter when `None`).
    pub async fn start(binary: &Path, database_url: &str, log: &Path, rust_log: Option<&str>) -> Result<Self> {
        let http = free_addr()?;
        let grpc = free_addr()?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("ACCOUNTD_DATABASE_URL", database_url)
            .env("ACCOUNTD_HTTP_ADDR", http.to_string())
            .env("ACCOUNTD_GRPC_ADDR", grpc.to_string())
            .env("ACCOUNTD_LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(log).with_context(|| format!("creating {}", log.display()))?);
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
        let mut accountd = Self { child, http, grpc, log: log.to_owned() };
        accountd.wait_ready().await?;
        Ok(accountd)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let probe = HttpRequest { method: http::Method::GET, path: "/readyz".into(), token: String::new(), body: None };
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("accountd exited ({status}) before it was ready; see {}", self.log.display());
            }
            if let Ok(mut connection) = Connection::open(self.http).await
                && let Ok((200, _)) = connection.send(&probe).await
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("accountd was not ready within 30 s; see {}", self.log.display())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in MB.
    pub fn memory(&self) -> Result<(f64, f64)> {
        memory_of(self.pid())
    }
}

impl Drop for Accountd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (VmRSS, VmHWM) of process `pid` in MB, from /proc/<pid>/status.
pub fn memory_of(pid: u32) -> Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc status")?;
    Ok((status_kb(&status, "VmRSS:")? / 1024.0, status_kb(&status, "VmHWM:")? / 1024.0))
}

/// The value in kB of `field` in a /proc status text.
pub fn status_kb(status: &str, field: &str) -> Result<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no {field} in /proc status"))
}

/// CPU seconds (user + system) of process `pid` itself and of its waited-for children, from
/// /proc/<pid>/stat (in clock ticks of 1/100 s, what Linux reports on every common platform).
pub fn cpu_seconds(pid: &str) -> Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc stat")?;
    stat_cpu(&stat)
}

/// (own, children) CPU seconds in a /proc stat line.
pub fn stat_cpu(stat: &str) -> Result<(f64, f64)> {
    // The command name may hold spaces; fields are counted after its closing parenthesis,
    // where field 3 (state) comes first and utime, stime, cutime, cstime are fields 14–17.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("odd /proc stat")?;
    let fields: Vec<f64> = rest.split_whitespace().skip(11).take(4).filter_map(|f| f.parse().ok()).collect();
    anyhow::ensure!(fields.len() == 4, "odd /proc stat: {stat}");
    Ok(((fields[0] + fields[1]) / 100.0, (fields[2] + fields[3]) / 100.0))
}

fn free_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fields_are_read_in_kilobytes() {
        let status = "Name:\taccountd\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kb(status, "VmRSS:").unwrap(), 10240.0);
        assert_eq!(status_kb(status, "VmHWM:").unwrap(), 20480.0);
        assert!(status_kb(status, "VmSwap:").is_err());
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 7 3 20 0 4 0 100 0 0";
        assert_eq!(stat_cpu(stat).unwrap(), (2.0, 0.1));
        assert!(stat_cpu("4242 (x) S 1").is_err());
    }
}
