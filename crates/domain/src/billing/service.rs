//! Subscriptions of an account (seed 004) and the rate-plan catalogue. `subscriptions:read`
//! and `subscriptions:write` (the billing role holds both) guard them.

use std::sync::Arc;

use crate::{
    Account, AccountId, AuditEntry, Begun, Changes, Clock, Created, Denied, Deps, ErrorKind, Fingerprint, Frequency,
    HasErrorKind, IdGenerator, IdempotencyKey, IfMatch, Page, PageRequest, Permission, Principal, RatePlan, Store,
    Subscription, SubscriptionFields, SubscriptionId, SubscriptionState, ValidationErrors, Version, invalid, stored_id,
};

/// Why a subscription operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Denied(Denied),
    /// A new subscription starts in one of the initial states.
    #[error("a subscription starts in trial, provisioned or awaiting_payment")]
    StateNotInitial,
    /// Cancelled and expired are final: plan and frequency no longer change.
    #[error("a cancelled or expired subscription cannot change")]
    SubscriptionIsFinal,
    /// The state machine ([`SubscriptionState::can_become`]) has no such step.
    #[error("the subscription cannot move to that state from its current one")]
    TransitionNotAllowed,
    #[error("the resource has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(SubscriptionError: access, idempotency, validation);

impl HasErrorKind for SubscriptionError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::NotFound => ErrorKind::NotFound,
            Self::Denied(denied) => denied.kind(),
            Self::StateNotInitial | Self::SubscriptionIsFinal | Self::TransitionNotAllowed => {
                ErrorKind::FailedPrecondition
            }
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Subscriptions and rate plans.
#[derive(Clone)]
pub struct SubscriptionService {
    deps: Deps,
}

impl std::fmt::Debug for SubscriptionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionService").finish_non_exhaustive()
    }
}

impl AuditEntry {
    pub(crate) fn subscription(s: &Subscription, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: Some(s.account_id),
            action,
            resource_type: "subscription",
            resource_id: s.id.to_string(),
            changes,
        }
    }
}

impl SubscriptionService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    /// The account, if the caller holds `permission` on it.
    async fn account(
        &self,
        principal: &Principal,
        id: AccountId,
        permission: Permission,
    ) -> Result<Account, SubscriptionError> {
        Ok(self.deps.authorized_account(principal, id, permission).await?)
    }

    async fn plan(&self, id: &str) -> Result<RatePlan, SubscriptionError> {
        let plan = self.deps.store.get_rate_plan(id).await?;
        Ok(plan.ok_or_else(|| invalid("rate_plan", "not_found", format!("no rate plan {id:?} in the catalogue")))?)
    }

    /// The rate-plan catalogue; any authenticated caller may read it.
    pub async fn rate_plans(&self, _principal: &Principal) -> Result<Vec<RatePlan>, SubscriptionError> {
        Ok(self.deps.store.list_rate_plans().await?)
    }

    pub async fn list(
        &self,
        principal: &Principal,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Subscription>, SubscriptionError> {
        self.account(principal, account, Permission::SubscriptionsRead).await?;
        Ok(self.deps.store.list_subscriptions(account, page).await?)
    }

    pub async fn get(
        &self,
        principal: &Principal,
        account: AccountId,
        id: SubscriptionId,
    ) -> Result<Subscription, SubscriptionError> {
        self.account(principal, account, Permission::SubscriptionsRead).await?;
        let subscription = self.deps.store.get_subscription(id).await?.ok_or(SubscriptionError::NotFound)?;
        if subscription.account_id != account {
            return Err(SubscriptionError::NotFound);
        }
        Ok(subscription)
    }

    /// Subscribes the account to a plan: monthly and in trial unless told otherwise; the
    /// price follows from the plan and the frequency, the first period starts now. With an
    /// idempotency key, a repeat returns the subscription the first request created.
    pub async fn create(
        &self,
        principal: &Principal,
        account: AccountId,
        fields: SubscriptionFields,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<Subscription>, SubscriptionError> {
        self.account(principal, account, Permission::SubscriptionsWrite).await?;
        let operation = "subscription.create";
        let fingerprint = || {
            Fingerprint::new(operation)
                .field("account", Some(account))
                .field("rate_plan", fields.rate_plan.as_deref())
                .field("frequency", fields.frequency.map(|f| f.as_str()))
                .field("state", fields.state.map(|s| s.as_str()))
                .finish()
        };
        let begun = self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await?;
        let (mut tx, pending) = match begun {
            Begun::Replay(id) => {
                let found = self.deps.store.get_subscription(stored_id(&id, SubscriptionId::parse)?).await?;
                let found = found.filter(|s| s.account_id == account).ok_or(SubscriptionError::ReplayedResourceGone)?;
                return Ok(Created { value: found, replayed: true });
            }
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let plan_id = fields.rate_plan.ok_or_else(|| invalid("rate_plan", "required", "name a rate plan"))?;
        let plan = self.plan(&plan_id).await?;
        let state = fields.state.unwrap_or(SubscriptionState::Trial);
        if !state.is_initial() {
            return Err(SubscriptionError::StateNotInitial);
        }
        let frequency = fields.frequency.unwrap_or(Frequency::Monthly);
        let now = self.deps.clock.now();
        let subscription = Subscription {
            id: SubscriptionId::from_uuid(self.deps.ids.next_id()),
            account_id: account,
            price: frequency.price(plan.monthly_price),
            currency: plan.currency.clone(),
            rate_plan: plan,
            frequency,
            state,
            current_period_start: now,
            current_period_end: frequency.period_end(now),
            version: Version::INITIAL,
            created_at: now,
            updated_at: now,
        };
        tx.insert_subscription(&subscription).await?;
        let entry =
            AuditEntry::subscription(&subscription, "subscription.create", Changes::created(subscription.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        pending.finish(&mut *tx, "subscription", subscription.id).await?;
        tx.commit().await?;
        Ok(Created { value: subscription, replayed: false })
    }

    /// Changes plan, frequency or state; a state change must follow the state machine.
    pub async fn update(
        &self,
        principal: &Principal,
        account: AccountId,
        id: SubscriptionId,
        fields: SubscriptionFields,
        if_match: IfMatch,
    ) -> Result<Subscription, SubscriptionError> {
        self.account(principal, account, Permission::SubscriptionsWrite).await?;
        let plan = match &fields.rate_plan {
            Some(plan) => Some(self.plan(plan).await?),
            None => None,
        };
        let mut tx = self.deps.store.begin().await?;
        let current =
            tx.find_subscription(id).await?.filter(|s| s.account_id == account).ok_or(SubscriptionError::NotFound)?;
        if !if_match.matches(current.version) {
            return Err(SubscriptionError::VersionMismatch);
        }
        let final_state = matches!(current.state, SubscriptionState::Cancelled | SubscriptionState::Expired);
        if final_state && (plan.is_some() || fields.frequency.is_some()) {
            return Err(SubscriptionError::SubscriptionIsFinal);
        }
        let mut next = current.clone();
        if let Some(state) = fields.state {
            if !current.state.can_become(state) {
                return Err(SubscriptionError::TransitionNotAllowed);
            }
            next.state = state;
        }
        // The price moves only when what is bought changes; a new frequency starts a new period.
        let repriced = plan.is_some() || fields.frequency.is_some_and(|f| f != current.frequency);
        if let Some(plan) = plan {
            next.currency = plan.currency.clone();
            next.rate_plan = plan;
        }
        if let Some(frequency) = fields.frequency.filter(|f| *f != current.frequency) {
            next.frequency = frequency;
            next.current_period_start = self.deps.clock.now();
            next.current_period_end = frequency.period_end(next.current_period_start);
        }
        if repriced {
            next.price = next.frequency.price(next.rate_plan.monthly_price);
        }
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        if changes.is_empty() {
            return Ok(current);
        }
        let now = self.deps.clock.now();
        next.version = current.version.next();
        next.updated_at = now;
        if !tx.update_subscription(&next, current.version).await? {
            return Err(SubscriptionError::Conflict);
        }
        self.deps
            .record(&mut *tx, principal, AuditEntry::subscription(&next, "subscription.update", changes), now)
            .await?;
        tx.commit().await?;
        Ok(next)
    }

    pub async fn delete(
        &self,
        principal: &Principal,
        account: AccountId,
        id: SubscriptionId,
    ) -> Result<(), SubscriptionError> {
        self.account(principal, account, Permission::SubscriptionsWrite).await?;
        let mut tx = self.deps.store.begin().await?;
        let current =
            tx.find_subscription(id).await?.filter(|s| s.account_id == account).ok_or(SubscriptionError::NotFound)?;
        tx.delete_subscription(id).await?;
        let now = self.deps.clock.now();
        let entry = AuditEntry::subscription(&current, "subscription.delete", Changes::deleted(current.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
