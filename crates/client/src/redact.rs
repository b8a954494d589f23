//! `Debug` of the generated messages that carry a secret: every field as usual, and `..`
//! for the secret, which is shown once to the program and never to its logs.

use std::fmt;

use crate::pb;

/// What a secret field prints: whether one is there, never what it is.
fn hidden(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { ".." }
}

impl fmt::Debug for pb::CreateTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateTokenResponse")
            .field("token", &self.token)
            .field("value", &hidden(&self.value))
            .field("secret_omitted", &self.secret_omitted)
            .finish()
    }
}

impl fmt::Debug for pb::RollTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RollTokenResponse").field("value", &hidden(&self.value)).finish()
    }
}

impl fmt::Debug for pb::AliasWithPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliasWithPassword")
            .field("alias", &self.alias)
            .field("password", &hidden(&self.password))
            .field("note", &self.note)
            .field("secret_omitted", &self.secret_omitted)
            .finish()
    }
}

impl fmt::Debug for pb::CreateAliasRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateAliasRequest")
            .field("account_id", &self.account_id)
            .field("local_part", &self.local_part)
            .field("domain", &self.domain)
            .field("domain_id", &self.domain_id)
            .field("display_name", &self.display_name)
            .field("user_id", &self.user_id)
            .field("password", &hidden(&self.password))
            .finish()
    }
}

impl fmt::Debug for pb::ResetAliasPasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetAliasPasswordRequest")
            .field("account_id", &self.account_id)
            .field("alias_id", &self.alias_id)
            .field("password", &hidden(&self.password))
            .field("etag", &self.etag)
            .finish()
    }
}

impl fmt::Debug for pb::AuthenticateMailboxRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateMailboxRequest")
            .field("address", &self.address)
            .field("password", &hidden(&self.password))
            .finish()
    }
}

impl fmt::Debug for pb::EnrollTotpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The otpauth URI holds the secret too.
        f.debug_struct("EnrollTotpResponse")
            .field("factor", &self.factor)
            .field("secret", &hidden(&self.secret))
            .field("otpauth_uri", &hidden(&self.otpauth_uri))
            .field("secret_omitted", &self.secret_omitted)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_answers_and_requests_print_as_dots() {
        let secret = "acd_averysecretvalue";
        let printed = [
            format!("{:?}", pb::CreateTokenResponse { value: secret.into(), ..Default::default() }),
            format!("{:?}", pb::RollTokenResponse { value: secret.into() }),
            format!("{:?}", pb::AliasWithPassword { password: secret.into(), ..Default::default() }),
            format!("{:?}", pb::CreateAliasRequest { password: secret.into(), ..Default::default() }),
            format!("{:?}", pb::ResetAliasPasswordRequest { password: secret.into(), ..Default::default() }),
            format!("{:?}", pb::AuthenticateMailboxRequest { password: secret.into(), ..Default::default() }),
            format!(
                "{:?}",
                pb::EnrollTotpResponse {
                    secret: secret.into(),
                    otpauth_uri: format!("otpauth://totp/x?secret={secret}"),
                    ..Default::default()
                }
            ),
        ];
        for text in &printed {
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains("\"..\""), "a present secret says so: {text}");
        }
    }
}
