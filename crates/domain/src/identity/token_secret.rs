//! Token secrets: `acd_` + 43 base62 characters (32 random bytes) + a 6-character base62
//! CRC-32 checksum. The prefix lets secret scanners spot a leaked token; the checksum lets
//! accountd refuse a mistyped or made-up token without touching the database. Only the
//! SHA-256 digest of a secret is ever stored.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The fixed prefix of every accountd token.
pub const TOKEN_PREFIX: &str = "acd_";
const BODY_LEN: usize = 43;
const CHECK_LEN: usize = 6;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token secret. `Debug` never shows it; [`TokenSecret::expose`] is the one way out, used
/// to show it to its owner once.
#[derive(Clone)]
pub struct TokenSecret(SecretString);

/// The SHA-256 digest of a secret: what the store keeps and looks tokens up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// Why a presented token was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token is malformed")]
pub struct MalformedToken;

impl TokenSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        // The OS generator failing is unrecoverable for a service that issues credentials.
        getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
        let body = encode_fixed(&bytes, BODY_LEN);
        let check = encode_fixed(&checksum(&body).to_be_bytes(), CHECK_LEN);
        Self(SecretString::from(format!("{TOKEN_PREFIX}{body}{check}")))
    }

    /// Accepts exactly the shape [`TokenSecret::generate`] produces, checksum included.
    pub fn parse(raw: &str) -> Result<Self, MalformedToken> {
        let rest = raw.strip_prefix(TOKEN_PREFIX).ok_or(MalformedToken)?;
        if rest.len() != BODY_LEN + CHECK_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MalformedToken);
        }
        let (body, check) = rest.split_at(BODY_LEN);
        if encode_fixed(&checksum(body).to_be_bytes(), CHECK_LEN) != check {
            return Err(MalformedToken);
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0.expose_secret().as_bytes()).into())
    }

    /// What may be shown later to recognise the token: its prefix and last four characters.
    pub fn hint(&self) -> String {
        let s = self.0.expose_secret();
        format!("{TOKEN_PREFIX}…{}", &s[s.len() - 4..])
    }

    /// The secret itself, to return once to the client that asked for it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

fn checksum(body: &str) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(TOKEN_PREFIX.as_bytes());
    hasher.update(body.as_bytes());
    hasher.finalize()
}

/// `bytes` as a big-endian number in base 62, left-padded with '0' to `width` digits.
fn encode_fixed(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    while digits.len() < width {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).expect("the alphabet is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_parses_and_has_the_documented_shape() {
        let secret = TokenSecret::generate();
        let text = secret.expose().to_owned();
        assert!(text.starts_with("acd_"));
        assert_eq!(text.len(), 4 + 43 + 6);
        assert_eq!(TokenSecret::parse(&text).map(|s| s.digest()), Ok(secret.digest()));
        assert!(secret.hint().ends_with(&text[text.len() - 4..]));
    }

    #[test]
    fn a_mistyped_truncated_or_foreign_token_is_malformed() {
        let text = TokenSecret::generate().expose().to_owned();
        let mut typo = text.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        for bad in [
            String::from_utf8(typo).unwrap(),
            text[..text.len() - 1].to_owned(),
            text.replacen("acd_", "ghp_", 1),
            format!("{text}x"),
            String::new(),
            "acd_!!!".into(),
        ] {
            assert_eq!(TokenSecret::parse(&bad).map(|_| ()), Err(MalformedToken), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = TokenSecret::generate();
        assert!(!format!("{secret:?}").contains(&secret.expose()[4..]));
    }

    #[test]
    fn secrets_differ_and_digests_are_stable() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.digest(), TokenSecret::parse(a.expose()).unwrap().digest());
    }
}
