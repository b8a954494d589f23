//! Reading the audit trail (seed 004 "Get account audit logs"): `audit:read` on the account,
//! or, for an account deleted since, the root permission `audit:read`.

use std::sync::Arc;

use crate::audit::{AuditEvent, AuditQuery};
use crate::clock::{Clock, IdGenerator};
use crate::identity_error::IdentityError;
use crate::page::Page;
use crate::permission::Permission;
use crate::ports::Store;
use crate::principal::Principal;
use crate::services::Deps;

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
    pub async fn list(&self, principal: &Principal, query: AuditQuery) -> Result<Page<AuditEvent>, IdentityError> {
        let root = principal.root_permissions().contains(Permission::AuditRead);
        match query.account_id {
            None if !root => return Err(IdentityError::NotFound),
            None => {}
            Some(id) => match self.deps.store.get_account(id).await? {
                Some(account) => self.deps.authorize(principal, &account, Permission::AuditRead).await?,
                // The account is gone but its trail remains, for the platform's eyes only.
                None if root => {}
                None => return Err(IdentityError::NotFound),
            },
        }
        let mut page = self.deps.store.list_audit_events(&query).await?;
        if !principal.root_permissions().contains(Permission::UsersRead) {
            for event in &mut page.items {
                event.actor = event.actor.clone().shown_to_tenant();
            }
        }
        Ok(page)
    }
}
