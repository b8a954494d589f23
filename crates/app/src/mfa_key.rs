//! The key that seals MFA secrets at rest: from the settings (`mfa_key`), else from the key
//! file in the data directory, generated there on first start. The key is never logged.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use accountd_domain::{KeySealer, SealingKey, SecretSealer};
use anyhow::Context;
use secrecy::ExposeSecret;
use tracing::{info, warn};

use crate::settings::Settings;

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "mfa.key";

/// The sealer for MFA secrets, with the key the settings give or the data directory keeps.
pub fn sealer(settings: &Settings) -> anyhow::Result<Arc<dyn SecretSealer>> {
    let key = match &settings.mfa_key {
        Some(text) => SealingKey::parse(text.expose()).context("invalid settings: mfa_key")?,
        None => {
            if settings.uses_postgres() {
                warn!(
                    "no mfa_key configured: using a key file in the data directory; instances sharing one \
                     database must share one key (set ACCOUNTD_MFA_KEY)"
                );
            }
            load_or_create(&settings.data_dir.join(KEY_FILE))?
        }
    };
    Ok(Arc::new(KeySealer::new(&key)))
}

/// Reads the key at `path`, or makes one there (readable by the owner only) when none exists.
fn load_or_create(path: &Path) -> anyhow::Result<SealingKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => SealingKey::parse(&text).with_context(|| format!("reading the MFA key file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(e).with_context(|| format!("reading the MFA key file {}", path.display())),
    }
}

fn create(path: &Path) -> anyhow::Result<SealingKey> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    let key = SealingKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key.to_base64().expose_secret().as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing the MFA key file {}", path.display()))?;
            info!(path = %path.display(), "generated the MFA key file");
            Ok(key)
        }
        // Another process made it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(e).with_context(|| format!("creating the MFA key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_made_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(KEY_FILE);
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.to_base64().expose_secret(), again.to_base64().expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_file_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, "hunter2-not-a-key").unwrap();
        let err = format!("{:#}", load_or_create(&path).unwrap_err());
        assert!(err.contains("MFA key"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
