//! The caller's own TOTP factors: enrol, activate with a current code,
//! verify a code, remove. A secret leaves the service once, in the enrolment answer.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tracing::instrument;

use crate::{
    AccountId, AuditEntry, Begun, Changes, Clock, Created, Deps, Factor, FactorId, FactorStatus, Fingerprint,
    IdGenerator, IdempotencyKey, MemberStatus, MfaError, Principal, SealedSecret, SecretSealer, Store, TotpCode,
    TotpSecret, UserId, WithSecret, invalid, stored_id,
};

/// How many factors, pending ones included, one user may have.
pub const MAX_FACTORS: usize = 10;

/// The issuer authenticator apps show next to the account name.
const ISSUER: &str = "accountd";

/// A new factor's secret: shown with the enrolment's first answer and never again.
#[derive(Debug)]
pub struct TotpSetup {
    /// Base32, as typed into an authenticator app.
    pub secret: SecretString,
    /// `otpauth://totp/…`, as a QR code shows it.
    pub otpauth_uri: SecretString,
}

/// A started enrolment: the pending factor, with its [`TotpSetup`] except on an idempotent
/// replay (which neither shows the secret again nor makes a new one).
pub type Enrolment = WithSecret<Factor, TotpSetup>;

/// The caller's MFA state, as `GetMe` shows it: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaStatus {
    pub factors: Vec<Factor>,
}

impl MfaStatus {
    /// True when at least one factor is active.
    pub fn enabled(&self) -> bool {
        self.factors.iter().any(Factor::is_active)
    }
}

impl AuditEntry {
    pub(crate) fn factor(factor: &Factor, action: &'static str, changes: Changes) -> Self {
        Self { account_id: None, action, resource_type: "mfa_factor", resource_id: factor.id.to_string(), changes }
    }
}

/// TOTP factors of the calling user.
#[derive(Clone)]
pub struct MfaService {
    deps: Deps,
    sealer: Arc<dyn SecretSealer>,
}

impl std::fmt::Debug for MfaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaService").finish_non_exhaustive()
    }
}

/// The field error of a change that needs a code from the user's active factor.
fn code_required() -> MfaError {
    MfaError::CodeRequired(invalid("code", "required", "a current code from the active factor is required"))
}

/// The calling user; the system principal has no factors.
fn caller(principal: &Principal) -> Result<&crate::User, MfaError> {
    principal.token_caller().map(|c| &c.user).ok_or(MfaError::NotFound)
}

/// The calling user, when its token may change its factors: factors protect every account
/// of the user, so a token narrowed without `mfa:write` may not (see [`Token::allows_mfa_write`]).
///
/// [`Token::allows_mfa_write`]: crate::Token::allows_mfa_write
fn writer(principal: &Principal) -> Result<&crate::User, MfaError> {
    let c = principal.token_caller().ok_or(MfaError::NotFound)?;
    if c.token.allows_mfa_write() { Ok(&c.user) } else { Err(MfaError::TokenLacksMfaWrite) }
}

impl MfaService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        sealer: Arc<dyn SecretSealer>,
    ) -> Self {
        Self { deps: Deps { store, clock, ids }, sealer }
    }

    /// The caller's factors (ids and states only).
    pub async fn status(&self, principal: &Principal) -> Result<MfaStatus, MfaError> {
        let user = caller(principal)?;
        Ok(MfaStatus { factors: self.deps.store.list_factors(user.id).await? })
    }

    /// Starts a TOTP enrolment: a pending factor whose secret and `otpauth://` URI are
    /// returned this once. At most [`MAX_FACTORS`] factors per user. A user with an active
    /// factor must give a current `code` from one: adding a factor (to replace one) is a
    /// change of the user's second factor, which a stolen token alone must not make. With an
    /// idempotency key, a repeat returns the factor the first request made, without its
    /// secret; the code is checked and spent in the creating transaction, so a repeat (which
    /// carries the same code) replays instead of failing on a spent code.
    #[instrument(level = "debug", skip_all)]
    pub async fn enroll_totp(
        &self,
        principal: &Principal,
        code: Option<TotpCode>,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<Enrolment>, MfaError> {
        let user = writer(principal)?;
        let accounts = self.member_accounts(user.id).await?;
        let attempts = format!("totp:{}", user.id);
        let guarded = self.deps.store.has_active_factor(user.id).await?;
        let code = match (guarded, code) {
            (true, None) => return Err(code_required()),
            (true, Some(code)) => {
                // Counted before the transaction, like every code check, so parallel guesses
                // get no more turns.
                self.deps.begin_attempt(&attempts).await?;
                Some(code)
            }
            (false, _) => None,
        };
        let secret = TotpSecret::generate()?;
        let id = FactorId::from_uuid(self.deps.ids.next_id());
        let sealed = self.sealer.seal(secret.bytes(), &Factor::seal_context(id, user.id))?;
        let now = self.deps.clock.now();
        let factor = Factor {
            id,
            user_id: user.id,
            status: FactorStatus::Pending,
            secret: SealedSecret(sealed),
            last_used_step: None,
            created_at: now,
            activated_at: None,
        };
        let operation = "mfa_factor.create";
        let fingerprint = || Fingerprint::new(operation).finish();
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => {
                let id = stored_id(&id, FactorId::parse)?;
                let factors = self.deps.store.list_factors(user.id).await?;
                let factor = factors.into_iter().find(|f| f.id == id).ok_or(MfaError::ReplayedResourceGone)?;
                return Ok(Created { value: WithSecret { resource: factor, secret: None }, replayed: true });
            }
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        // The user's row lock serializes its enrolments, so two at once cannot pass the cap.
        tx.find_user(user.id).await?.ok_or(MfaError::NotFound)?;
        let factors = tx.factors_of(user.id).await?;
        let active: Vec<Factor> = factors.iter().filter(|f| f.is_active()).cloned().collect();
        match &code {
            // A factor was activated since the check above: decided without a code, so retry.
            None if !active.is_empty() => return Err(MfaError::Conflict),
            None => {}
            Some(code) => {
                self.spend_one_of(&mut *tx, &active, code, now).await?;
            }
        }
        if factors.len() >= MAX_FACTORS {
            return Err(MfaError::TooManyFactors);
        }
        tx.insert_factor(&factor).await?;
        let entry = || AuditEntry::factor(&factor, "mfa_factor.create", Changes::created(factor.snapshot()));
        record_everywhere(&self.deps, &mut *tx, principal, &accounts, entry, now).await?;
        pending.finish(&mut *tx, "mfa_factor", factor.id).await?;
        tx.commit().await?;
        if code.is_some() {
            self.deps.forget_attempts(&attempts).await?;
        }
        let setup =
            TotpSetup { otpauth_uri: secret.otpauth_uri(ISSUER, user.email.as_str()), secret: secret.to_base32() };
        Ok(Created { value: WithSecret { resource: factor, secret: Some(setup) }, replayed: false })
    }

    /// Activates a pending factor — `factor`, or the caller's newest pending one — with a
    /// current code from it. The code is spent: it cannot be used again.
    #[instrument(level = "debug", skip_all)]
    pub async fn activate_totp(
        &self,
        principal: &Principal,
        factor: Option<FactorId>,
        code: TotpCode,
    ) -> Result<Factor, MfaError> {
        let user = writer(principal)?;
        let accounts = self.member_accounts(user.id).await?;
        let mut tx = self.deps.store.begin().await?;
        // Every factor of the user, locked in the one order every factor transaction uses
        // (verification, enrolment, reset), so none of them waits on another in a cycle.
        let factors = tx.factors_of(user.id).await?;
        let current = match factor {
            Some(id) => factors.into_iter().find(|f| f.id == id).ok_or(MfaError::NotFound)?,
            None => factors
                .into_iter()
                .rev()
                .find(|f| f.status == FactorStatus::Pending)
                .ok_or(MfaError::NoPendingFactor)?,
        };
        if current.is_active() {
            return Err(MfaError::FactorAlreadyActive);
        }
        let now = self.deps.clock.now();
        let step = self.spend(&mut *tx, &current, &code, now).await?;
        let next = Factor {
            status: FactorStatus::Active,
            last_used_step: Some(step),
            activated_at: Some(now),
            ..current.clone()
        };
        let entry =
            || AuditEntry::factor(&next, "mfa_factor.activate", Changes::updated(current.snapshot(), next.snapshot()));
        record_everywhere(&self.deps, &mut *tx, principal, &accounts, entry, now).await?;
        // Other pending factors were enrolled before this one protected the user, perhaps by
        // someone holding only a stolen token: once a factor is active, a new one needs a code
        // from it (see `enroll_totp`), so the older enrolments go.
        for stale in tx.factors_of(user.id).await?.into_iter().filter(|f| f.id != next.id && !f.is_active()) {
            tx.delete_factor(stale.id).await?;
            let entry = || AuditEntry::factor(&stale, "mfa_factor.delete", Changes::deleted(stale.snapshot()));
            record_everywhere(&self.deps, &mut *tx, principal, &accounts, entry, now).await?;
        }
        tx.commit().await?;
        Ok(next)
    }

    /// Checks a code against the caller's active factors, for a product that asks accountd
    /// to confirm a second factor. A code is accepted once; a replay is refused.
    #[instrument(level = "debug", skip_all)]
    pub async fn verify_totp(&self, principal: &Principal, code: TotpCode) -> Result<FactorId, MfaError> {
        let user = caller(principal)?;
        // Six digits fall to guessing without a limit: codes are throttled per user like
        // mailbox passwords are per address.
        let attempts = format!("totp:{}", user.id);
        self.deps.begin_attempt(&attempts).await?;
        let mut tx = self.deps.store.begin().await?;
        let active: Vec<Factor> = tx.factors_of(user.id).await?.into_iter().filter(Factor::is_active).collect();
        if active.is_empty() {
            return Err(MfaError::NoActiveFactor);
        }
        let now = self.deps.clock.now();
        let accepted = self.spend_one_of(&mut *tx, &active, &code, now).await?;
        tx.commit().await?;
        self.deps.forget_attempts(&attempts).await?;
        Ok(accepted)
    }

    /// Removes one of the caller's factors; an active one only with a current `code` from it.
    #[instrument(level = "debug", skip_all, fields(factor_id = %id))]
    pub async fn delete_totp(
        &self,
        principal: &Principal,
        id: FactorId,
        code: Option<TotpCode>,
    ) -> Result<(), MfaError> {
        let user = writer(principal)?;
        let accounts = self.member_accounts(user.id).await?;
        let seen =
            self.deps.store.list_factors(user.id).await?.into_iter().find(|f| f.id == id).ok_or(MfaError::NotFound)?;
        if seen.is_active() {
            self.confirm(user.id, Some(id), code).await?;
        }
        let mut tx = self.deps.store.begin().await?;
        let factor = tx.find_factor(id).await?.filter(|f| f.user_id == user.id).ok_or(MfaError::NotFound)?;
        if factor.is_active() && !seen.is_active() {
            // Activated since it was read: decided on a pending factor, so retry.
            return Err(MfaError::Conflict);
        }
        tx.delete_factor(id).await?;
        let now = self.deps.clock.now();
        let entry = || AuditEntry::factor(&factor, "mfa_factor.delete", Changes::deleted(factor.snapshot()));
        record_everywhere(&self.deps, &mut *tx, principal, &accounts, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The accounts where `user` is an accepted member: where its factor changes are audited.
    async fn member_accounts(&self, user: UserId) -> anyhow::Result<Vec<AccountId>> {
        let memberships = self.deps.store.memberships_of(user).await?;
        Ok(memberships.into_iter().filter(|m| m.status == MemberStatus::Member).map(|m| m.account_id).collect())
    }

    /// Spends a current code from an active factor of `user` (`factor`, or any active one),
    /// throttled like [`MfaService::verify_totp`]; a missing code is a field error.
    async fn confirm(&self, user: UserId, factor: Option<FactorId>, code: Option<TotpCode>) -> Result<(), MfaError> {
        let code = code.ok_or_else(code_required)?;
        let attempts = format!("totp:{user}");
        self.deps.begin_attempt(&attempts).await?;
        let mut tx = self.deps.store.begin().await?;
        let active: Vec<Factor> = tx
            .factors_of(user)
            .await?
            .into_iter()
            .filter(|f| f.is_active() && factor.is_none_or(|id| f.id == id))
            .collect();
        let now = self.deps.clock.now();
        self.spend_one_of(&mut *tx, &active, &code, now).await?;
        tx.commit().await?;
        self.deps.forget_attempts(&attempts).await?;
        Ok(())
    }

    /// Spends `code` on the first of `active` that accepts it, in `tx`, and names that
    /// factor; a code that none accepts is invalid, or replayed when one saw it already (a
    /// replay says more than "wrong code").
    async fn spend_one_of(
        &self,
        tx: &mut dyn crate::Transaction,
        active: &[Factor],
        code: &TotpCode,
        now: DateTime<Utc>,
    ) -> Result<FactorId, MfaError> {
        let mut replayed = false;
        for f in active {
            match self.spend(&mut *tx, f, code, now).await {
                Ok(_) => return Ok(f.id),
                Err(MfaError::CodeReplayed(_)) => replayed = true,
                Err(MfaError::CodeMismatch(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(if replayed { replay() } else { invalid_code() })
    }

    /// Accepts `code` for `factor` at `now` and records its step, so it is never accepted
    /// again: the step must be later than the last accepted one.
    async fn spend(
        &self,
        tx: &mut dyn crate::Transaction,
        factor: &Factor,
        code: &TotpCode,
        now: DateTime<Utc>,
    ) -> Result<i64, MfaError> {
        let opened = self.sealer.open(&factor.secret.0, &Factor::seal_context(factor.id, factor.user_id))?;
        let secret = TotpSecret::from_opened(opened);
        let step = secret.matching_step(code, now).ok_or_else(invalid_code)?;
        if factor.last_used_step.is_some_and(|last| step <= last) || !tx.record_factor_use(factor.id, step, now).await?
        {
            return Err(replay());
        }
        Ok(step)
    }
}

fn invalid_code() -> MfaError {
    MfaError::CodeMismatch(invalid("code", "invalid_code", "the code does not match the factor at this time"))
}

fn replay() -> MfaError {
    MfaError::CodeReplayed(invalid("code", "replayed", "this code was used already; wait for the next one"))
}

/// Records a factor change once for the user (no account: the platform's trail) and once
/// under each account where the user is an accepted member, so the administrators of each
/// see it (`audit:read` there).
async fn record_everywhere(
    deps: &Deps,
    tx: &mut dyn crate::Transaction,
    principal: &Principal,
    accounts: &[AccountId],
    entry: impl Fn() -> AuditEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    deps.record(tx, principal, entry(), now).await?;
    for account in accounts {
        let mut e = entry();
        e.account_id = Some(*account);
        deps.record(tx, principal, e, now).await?;
    }
    Ok(())
}

/// Removes every factor of `user` inside `tx` (seed 002 reset-MFA), one audit event per
/// factor under each of `accounts` (the accounts where the user is an accepted member, the
/// reset's own first), so every administrator of the user sees it; returns how many
/// factors there were.
pub(crate) async fn reset_factors(
    deps: &Deps,
    tx: &mut dyn crate::Transaction,
    principal: &Principal,
    accounts: &[AccountId],
    user: UserId,
) -> anyhow::Result<usize> {
    let factors = tx.factors_of(user).await?;
    tx.delete_factors_of(user).await?;
    let now = deps.clock.now();
    for factor in &factors {
        for account in accounts {
            let mut entry = AuditEntry::factor(factor, "mfa_factor.reset", Changes::deleted(factor.snapshot()));
            entry.account_id = Some(*account);
            deps.record(tx, principal, entry, now).await?;
        }
    }
    Ok(factors.len())
}
