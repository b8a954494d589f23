//! Whom a caller may see: the platform's root users stay hidden from tenants, and a tenant
//! names only users it shares an account with ("Who may act on whom" in ARCHITECTURE.md).

use crate::Deps;
use crate::{Account, Member, MemberStatus, Permission, Principal, UserId};

impl Deps {
    /// Whether the caller is a platform administrator (root `users:write`): it may add any
    /// user to any account at once, and sees every user's personal data.
    pub fn is_platform_admin(principal: &Principal) -> bool {
        principal.root_permissions().contains(Permission::UsersWrite)
    }

    /// Which of `ids` a tenant must see as "the platform": root users, whose ids and personal
    /// data are not shown to callers without root `users:read` (an account's `owner_id`, a
    /// member's `invited_by`). Empty for platform readers.
    pub async fn platform_users(&self, principal: &Principal, ids: Vec<UserId>) -> anyhow::Result<Vec<UserId>> {
        if principal.root_permissions().contains(Permission::UsersRead) || ids.is_empty() {
            return Ok(Vec::new());
        }
        // One query for the (few) root users, however many ids a page names.
        let roots = self.store.root_user_ids().await?;
        let mut platform: Vec<UserId> = ids.into_iter().filter(|id| roots.contains(id)).collect();
        platform.dedup();
        Ok(platform)
    }

    /// `accounts` as the caller may see them: a root owner shows as no owner to tenants.
    pub async fn shown_accounts(
        &self,
        principal: &Principal,
        mut accounts: Vec<Account>,
    ) -> anyhow::Result<Vec<Account>> {
        let owners: Vec<UserId> = accounts.iter().filter_map(|a| a.owner_id).collect();
        let platform = self.platform_users(principal, owners).await?;
        for account in &mut accounts {
            if account.owner_id.is_some_and(|o| platform.contains(&o)) {
                account.owner_id = None;
            }
        }
        Ok(accounts)
    }

    /// `account` as the caller may see it (see [`Deps::shown_accounts`]).
    pub async fn shown_account(&self, principal: &Principal, account: Account) -> anyhow::Result<Account> {
        Ok(self.shown_accounts(principal, vec![account]).await?.remove(0))
    }

    /// `members` as the caller may see them: to tenants, root users' memberships are left
    /// out and invited by a root user shows as invited by no one.
    pub async fn shown_members(&self, principal: &Principal, members: Vec<Member>) -> anyhow::Result<Vec<Member>> {
        let named: Vec<UserId> = members.iter().flat_map(|m| m.invited_by.into_iter().chain([m.user_id])).collect();
        let platform = self.platform_users(principal, named).await?;
        Ok(members
            .into_iter()
            .filter(|m| !platform.contains(&m.user_id))
            .map(|mut m| {
                if m.invited_by.is_some_and(|i| platform.contains(&i)) {
                    m.invited_by = None;
                }
                m
            })
            .collect())
    }

    /// `member` as the caller may see it (see [`Deps::shown_members`]); `None` when it is a
    /// root user's membership and the caller a tenant.
    pub async fn shown_member(&self, principal: &Principal, member: Member) -> anyhow::Result<Option<Member>> {
        Ok(self.shown_members(principal, vec![member]).await?.pop())
    }

    /// Whether a tenant may name user `user` by id (to invite it): the user is the caller,
    /// or an accepted member of an account where the caller holds `members:read` (so the
    /// caller could list it already). Root callers with `users:read` see every user. Anyone
    /// else gets the answer of a user that does not exist, so ids are no oracle.
    pub async fn may_see_user(&self, principal: &Principal, user: UserId) -> anyhow::Result<bool> {
        if principal.user_id() == Some(user) || principal.root_permissions().contains(Permission::UsersRead) {
            return Ok(true);
        }
        let memberships = self.store.memberships_of(user).await?;
        let accepted: Vec<_> = memberships.iter().filter(|m| m.status == MemberStatus::Member).collect();
        if accepted.is_empty() {
            return Ok(false);
        }
        let rights = self.all_rights(principal).await?;
        for membership in accepted {
            if let Some(account) = self.store.get_account(membership.account_id).await?
                && rights.on(&account).contains(Permission::MembersRead)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
