//! Reading the audit trail (seed 004 "Get account audit logs"): `audit:read` on the account,
//! or, for an account deleted since, the root permission `audit:read`.

use std::sync::Arc;

use crate::{
    ActorKind, AuditEvent, AuditQuery, Clock, Denied, Deps, ErrorKind, HasErrorKind, IdGenerator, Page, Permission,
    Principal, RequestInfo, Store, UserId,
};

/// Why the audit trail could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No such account for the caller, or (without the root permission) no account named.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Denied(Denied),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(AuditError: access);

impl HasErrorKind for AuditError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Denied(denied) => denied.kind(),
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// The audit-log listing.
#[derive(Clone)]
pub struct AuditService {
    deps: Deps,
}

impl std::fmt::Debug for AuditService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService").finish_non_exhaustive()
    }
}

impl AuditService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    /// Events of `query.account_id` matching the query's filters, one page at a time.
    pub async fn list(&self, principal: &Principal, query: AuditQuery) -> Result<Page<AuditEvent>, AuditError> {
        let root = principal.root_permissions().contains(Permission::AuditRead);
        match query.account_id {
            None if !root => return Err(AuditError::NotFound),
            None => {}
            Some(id) => match self.deps.store.get_account(id).await? {
                Some(account) => self.deps.authorize(principal, &account, Permission::AuditRead).await?,
                // The account is gone but its trail remains, for the platform's eyes only.
                None if root => {}
                None => return Err(AuditError::NotFound),
            },
        }
        let mut page = self.deps.store.list_audit_events(&query).await?;
        if query.actor_id.is_some() && !principal.root_permissions().contains(Permission::UsersRead) {
            // A tenant cannot see platform actors' ids, so filtering by one finds nothing: an
            // actor_id filter is no oracle for a root user's token id.
            page.items.retain(|e| !matches!(e.actor.kind, ActorKind::Platform | ActorKind::System));
        }
        self.deps.shown_audit_events(principal, &mut page.items).await?;
        Ok(page)
    }
}

impl Deps {
    /// `events` as `principal` may see them: unchanged for platform readers (root
    /// `users:read`); tenants see the platform (root users, the system) without ids or
    /// emails: as actor, in the changes (an account's owner_id, a member's
    /// user_id/invited_by), and as the resource of a membership or user event
    /// ("platform"), and a platform call's origin (ip, user agent, request id) blank. The
    /// audit listing and the event feed both show events through it.
    pub(crate) async fn shown_audit_events(
        &self,
        principal: &Principal,
        events: &mut [AuditEvent],
    ) -> anyhow::Result<()> {
        if principal.root_permissions().contains(Permission::UsersRead) {
            return Ok(());
        }
        let named: Vec<UserId> = events
            .iter()
            .flat_map(|e| {
                let resource = matches!(e.resource_type.as_str(), "member" | "user").then(|| e.resource_id.clone());
                e.changes.user_ids().into_iter().chain(resource)
            })
            .filter_map(|id| UserId::parse(&id, "id").ok())
            .collect();
        let platform: Vec<String> =
            self.platform_users(principal, named).await?.iter().map(ToString::to_string).collect();
        for event in events {
            if matches!(event.actor.kind, ActorKind::Platform | ActorKind::System) {
                event.request = RequestInfo::default();
            }
            event.actor = event.actor.clone().shown_to_tenant();
            event.changes = std::mem::take(&mut event.changes).without_users(&platform);
            if matches!(event.resource_type.as_str(), "member" | "user") && platform.contains(&event.resource_id) {
                event.resource_id = "platform".to_owned();
            }
        }
        Ok(())
    }
}
