//! The browser the console's end-to-end tests drive: Debian's `chromium` and
//! `chromium-driver`, installed with apt-get when missing. Nothing is downloaded from
//! elsewhere (no browser download works on these machines), and a missing browser is an
//! error, never a skipped test.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn present() -> bool {
    Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
}

/// Makes sure chromium and chromedriver are installed.
pub fn provide() -> Result<()> {
    if present() {
        return Ok(());
    }
    eprintln!("xtask: installing chromium and chromium-driver for the console's browser tests");
    let apt = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get (the console's browser tests need chromium and chromium-driver)")?;
        if !status.success() {
            bail!("`apt-get {}` failed: install chromium and chromium-driver (as root)", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    apt(&["install", "-y", "-qq", "chromium", "chromium-driver"])?;
    if !present() {
        bail!("chromium-driver was installed but {CHROMEDRIVER} is missing");
    }
    Ok(())
}
