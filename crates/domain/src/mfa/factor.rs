//! Multi-factor authentication (SPEC §4): TOTP factors (RFC 6238) and the sealing of their
//! secrets. A factor's secret is shown once, at enrolment, and stored only sealed with a key
//! the operator controls; a code is accepted at most once (RFC 6238 §5.2).

use std::fmt;

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::{FactorId, FieldError, Snapshot, UserId};

named_enum!(
    /// A factor is `pending` from enrolment until a correct code activates it.
    FactorStatus, "status" {
        Pending => "pending",
        Active => "active",
    }
);

/// A sealed TOTP secret as stored: what [`SecretSealer::seal`] returned. Opaque; never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub Vec<u8>);

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(..)")
    }
}

/// A user's TOTP factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: FactorId,
    pub user_id: UserId,
    pub status: FactorStatus,
    pub secret: SealedSecret,
    /// The last time step whose code was accepted; a code of this step or an earlier one
    /// is refused from then on, so no code works twice.
    pub last_used_step: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

impl Factor {
    pub fn is_active(&self) -> bool {
        self.status == FactorStatus::Active
    }

    /// The audited image of this factor: never its secret.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
            .with("type", "totp")
            .with("user_id", self.user_id.to_string())
            .with("status", self.status.as_str())
    }

    /// What the sealed secret is bound to, so a sealed value copied onto another factor
    /// or user does not open.
    pub(crate) fn seal_context(id: FactorId, user: UserId) -> Vec<u8> {
        let mut context = b"accountd totp v1 ".to_vec();
        context.extend_from_slice(id.as_uuid().as_bytes());
        context.extend_from_slice(user.as_uuid().as_bytes());
        context
    }
}

/// Seals and opens small secrets. Implemented by [`KeySealer`]; an embedding service may
/// bring its own (a KMS, an HSM).
pub trait SecretSealer: Send + Sync + fmt::Debug {
    /// Encrypts and authenticates `plaintext`, bound to `context`.
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>>;

    /// The plaintext of `sealed`; an error when it was not sealed by this key for `context`.
    fn open(&self, sealed: &[u8], context: &[u8]) -> anyhow::Result<SecretBox<[u8]>>;
}

/// A 256-bit key for sealing MFA secrets, given as 32 bytes in standard base64.
pub struct SealingKey(SecretBox<[u8; 32]>);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// A new random key.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = Box::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(|e| anyhow::anyhow!("no randomness for a sealing key: {e}"))?;
        Ok(Self(SecretBox::new(bytes)))
    }

    /// Parses the base64 text form; the error never repeats the input.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("the MFA key is not valid base64"))?;
        let bytes: [u8; 32] =
            decoded.try_into().map_err(|_| anyhow::anyhow!("the MFA key must be 32 bytes (44 base64 characters)"))?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// The base64 text form, for writing the key file.
    pub fn to_base64(&self) -> SecretString {
        use base64::Engine;
        SecretString::from(base64::engine::general_purpose::STANDARD.encode(self.0.expose_secret()))
    }
}

/// [`SecretSealer`] with XChaCha20-Poly1305: a random 192-bit nonce per seal, so nonces
/// never repeat in practice. Layout: version byte, nonce, ciphertext and tag.
pub struct KeySealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySealer(..)")
    }
}

const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

impl KeySealer {
    pub fn new(key: &SealingKey) -> Self {
        Self { cipher: XChaCha20Poly1305::new(key.0.expose_secret().into()) }
    }
}

impl SecretSealer for KeySealer {
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness for a nonce: {e}"))?;
        let payload = chacha20poly1305::aead::Payload { msg: plaintext, aad: context };
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| anyhow::anyhow!("sealing a secret failed"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEAL_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> anyhow::Result<SecretBox<[u8]>> {
        let (version, rest) = sealed.split_first().ok_or_else(|| anyhow::anyhow!("an empty sealed secret"))?;
        anyhow::ensure!(*version == SEAL_VERSION && rest.len() > NONCE_LEN, "an unknown sealed-secret format");
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into()?;
        let payload = chacha20poly1305::aead::Payload { msg: ciphertext, aad: context };
        let plaintext = self
            .cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| anyhow::anyhow!("a sealed secret did not open: another key sealed it, or it was altered"))?;
        Ok(SecretBox::from(plaintext.into_boxed_slice()))
    }
}

/// RFC 6238 parameters every authenticator app understands: HMAC-SHA-1, six digits, 30 s
/// steps, and one step of clock skew either way.
const DIGITS: usize = 6;
const STEP_SECONDS: u64 = 30;
const SKEW_STEPS: u8 = 1;
/// 160 bits, the length RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// A TOTP secret in the clear: exists only while a factor is enrolled or a code checked.
pub struct TotpSecret(SecretBox<[u8]>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a TOTP secret: {e}"))?;
        Ok(Self(SecretBox::from(bytes.into_boxed_slice())))
    }

    pub(crate) fn from_opened(bytes: SecretBox<[u8]>) -> Self {
        Self(bytes)
    }

    /// Parses the base32 form an authenticator app is given (clients and tests use it).
    pub fn from_base32(text: &str) -> Result<Self, FieldError> {
        let secret = totp_rs::Secret::try_from_base32(text.trim().to_ascii_uppercase())
            .map_err(|_| FieldError::new("secret", "invalid", "is not a base32 TOTP secret"))?;
        Ok(Self(SecretBox::from(secret.as_bytes().to_vec().into_boxed_slice())))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The base32 form (RFC 4648, no padding) shown once at enrolment.
    pub fn to_base32(&self) -> SecretString {
        let encoded = totp_rs::Secret::from(self.bytes().to_vec()).to_base32();
        SecretString::from(encoded.trim_end_matches('=').to_owned())
    }

    fn totp(&self) -> totp_rs::Totp {
        totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_skew(SKEW_STEPS.into())
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.bytes().to_vec())
            .build_noncompliant()
    }

    /// The code of the time step containing `at`.
    pub fn code_at(&self, at: DateTime<Utc>) -> String {
        self.totp().generate(unix_seconds(at)).to_string()
    }

    /// The time step whose code `code` is, within one step of `at`; `None` when it is none.
    pub(crate) fn matching_step(&self, code: &TotpCode, at: DateTime<Utc>) -> Option<i64> {
        self.totp().check(&code.0, unix_seconds(at)).and_then(|step| i64::try_from(step).ok())
    }

    /// The `otpauth://` URI authenticator apps read (Key Uri Format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> SecretString {
        let issuer = percent_encode(issuer);
        SecretString::from(format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent_encode(account),
            self.to_base32().expose_secret()
        ))
    }
}

fn unix_seconds(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A submitted code: exactly six ASCII digits (spaces, as apps show them, are ignored).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(..)")
    }
}

impl TotpCode {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            return Err(FieldError::new("code", "required", "must not be empty"));
        }
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("code", "invalid_format", "must be 6 digits"));
        }
        Ok(Self(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("valid time")
    }

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", last six digits.
        let secret = TotpSecret(SecretBox::from(b"12345678901234567890".to_vec().into_boxed_slice()));
        assert_eq!(secret.code_at(at(59)), "287082");
        assert_eq!(secret.code_at(at(1_111_111_109)), "081804");
        assert_eq!(secret.code_at(at(20_000_000_000)), "353130");
    }

    #[test]
    fn a_code_matches_its_own_step_and_one_step_either_side_only() {
        let secret = TotpSecret::generate().unwrap();
        let now = at(1_700_000_000);
        let step = 1_700_000_000 / 30;
        let code = TotpCode::parse(&secret.code_at(now)).unwrap();
        assert_eq!(secret.matching_step(&code, now), Some(step));
        assert_eq!(secret.matching_step(&code, at(1_700_000_000 + 30)), Some(step));
        assert_eq!(secret.matching_step(&code, at(1_700_000_000 + 90)), None);
    }

    #[test]
    fn codes_must_be_six_digits() {
        assert_eq!(TotpCode::parse("").unwrap_err().code, "required");
        for bad in ["12345", "1234567", "12a456"] {
            assert_eq!(TotpCode::parse(bad).unwrap_err().code, "invalid_format", "{bad}");
        }
        assert!(TotpCode::parse("123 456").is_ok());
    }

    #[test]
    fn the_base32_form_round_trips_and_the_uri_names_issuer_and_account() {
        let secret = TotpSecret::generate().unwrap();
        let text = secret.to_base32();
        assert_eq!(text.expose_secret().len(), 32);
        let again = TotpSecret::from_base32(text.expose_secret()).unwrap();
        assert_eq!(again.bytes(), secret.bytes());
        let uri = secret.otpauth_uri("accountd", "ada+x@example.com");
        assert!(uri.expose_secret().starts_with("otpauth://totp/accountd:ada%2Bx%40example.com?secret="));
        assert!(uri.expose_secret().contains("&period=30"));
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let sealer = KeySealer::new(&SealingKey::generate().unwrap());
        let sealed = sealer.seal(b"top secret", b"ctx-a").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"top secret"));
        assert_eq!(sealer.open(&sealed, b"ctx-a").unwrap().expose_secret(), b"top secret");
        assert!(sealer.open(&sealed, b"ctx-b").is_err());
        let other = KeySealer::new(&SealingKey::generate().unwrap());
        assert!(other.open(&sealed, b"ctx-a").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&tampered, b"ctx-a").is_err());
    }

    #[test]
    fn sealing_keys_parse_from_base64_and_refuse_other_lengths() {
        let key = SealingKey::generate().unwrap();
        let text = key.to_base64();
        assert!(SealingKey::parse(text.expose_secret()).is_ok());
        assert!(SealingKey::parse("c2hvcnQ=").unwrap_err().to_string().contains("32 bytes"));
        assert!(SealingKey::parse("not base64!").is_err());
        assert_eq!(format!("{key:?}"), "SealingKey(..)");
    }
}
