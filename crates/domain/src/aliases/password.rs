//! Mailbox password hashing: argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane —
//! OWASP's recommendation), run on tokio's blocking pool so that a burst of logins cannot
//! stall the threads that serve other requests.

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::{MailboxPassword, PasswordHasher};

/// [`PasswordHasher`] with argon2id.
#[derive(Debug, Clone, Default)]
pub struct Argon2idHasher;

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let hash = Argon2::default().hash_password(password).map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))?;
    Ok(hash.to_string())
}

#[async_trait]
impl PasswordHasher for Argon2idHasher {
    async fn hash(&self, password: &MailboxPassword) -> anyhow::Result<String> {
        let password = SecretString::from(password.expose().to_owned());
        tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret().as_bytes()))
            .await
            .context("the hashing task failed")?
    }

    async fn verify(&self, password: &SecretString, phc: Option<&str>) -> anyhow::Result<bool> {
        // Without a stored hash, a throwaway one is checked instead, so that an unknown
        // address takes as long to refuse as a wrong password.
        let known = phc.is_some();
        let phc: Arc<str> = match phc {
            Some(phc) => Arc::from(phc),
            None => dummy_hash()?,
        };
        let password = password.clone();
        let matched = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let parsed =
                PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash is not a PHC string: {e}"))?;
            Ok(Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
        })
        .await
        .context("the verification task failed")??;
        Ok(known && matched)
    }
}

/// The hash of a random password nobody knows, computed once.
fn dummy_hash() -> anyhow::Result<Arc<str>> {
    static DUMMY: OnceLock<Arc<str>> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash: Arc<str> = Arc::from(hash_blocking(MailboxPassword::generate().expose().as_bytes())?);
    Ok(DUMMY.get_or_init(|| hash).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_phc_strings_that_verify_only_their_password() {
        let hasher = Argon2idHasher;
        let password = MailboxPassword::generate();
        let first = hasher.hash(&password).await.unwrap();
        let second = hasher.hash(&password).await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        let right = SecretString::from(password.expose().to_owned());
        let wrong = SecretString::from(format!("{}x", password.expose()));
        assert!(hasher.verify(&right, Some(&first)).await.unwrap());
        assert!(!hasher.verify(&wrong, Some(&first)).await.unwrap());
        assert!(!hasher.verify(&right, None).await.unwrap());
        assert!(hasher.verify(&right, Some("not a phc string")).await.is_err());
    }
}
