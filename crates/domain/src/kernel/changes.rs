//! What a committed change tells the rest of the process: which facts a decision depends on
//! it altered ([`Fact`]), announced through the store's [`ChangeHub`], which drops them from
//! the [`DecisionCache`] and wakes whoever waits for the next commit.
//!
//! A store's transaction remembers the facts its writes alter (the list is on
//! [`Transaction`](crate::Transaction)) and hands them to its hub once it committed
//! (locally, before `commit` returns) and to every other process on the same database
//! (PostgreSQL: `NOTIFY` sent in the writing transaction, received by each instance's
//! listener). The store announces them, not the services: every write path, a future one
//! included, is covered by the port it writes through. A hub that cannot hear other processes is [`ChangeHub::lost`]:
//! its cache is emptied and bypassed until [`ChangeHub::restored`].

use std::num::NonZeroUsize;

use crate::{AccountId, DecisionCache, TokenId, UserId};

/// A fact a decision depends on, named by the thing a committed change altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// A token's status, policies, condition, validity window or secret (a roll), or its
    /// deletion.
    Token(TokenId),
    /// A user's status or root permissions, its memberships and their roles, or its factors.
    User(UserId),
    /// An account's place in the tree or its two-factor enforcement.
    Account(AccountId),
    /// An account was deleted, and with it every token created under it.
    AccountDeleted(AccountId),
    /// Anything: more facts than a notification carries, or an announcement that could not
    /// be read.
    Everything,
}

/// The store's announcements of committed changes (one per store, [`Store::changes`](crate::Store)).
#[derive(Debug)]
pub struct ChangeHub {
    decisions: DecisionCache,
    commits: tokio::sync::watch::Sender<u64>,
    origin: u128,
}

impl ChangeHub {
    /// The hub of a store no other process writes (SQLite): its own commits are all there
    /// is to hear, so its cache is trusted from the start. `capacity`: entries of each kind.
    pub fn local(capacity: NonZeroUsize) -> Self {
        Self {
            decisions: DecisionCache::new(capacity),
            commits: tokio::sync::watch::Sender::new(0),
            origin: uuid::Uuid::now_v7().as_u128(),
        }
    }

    /// The hub of a store other processes write too (PostgreSQL): it starts
    /// [`ChangeHub::lost`], and its cache is used once the store's listener hears the others.
    pub fn shared(capacity: NonZeroUsize) -> Self {
        let hub = Self::local(capacity);
        hub.decisions.suspend();
        hub
    }

    /// What tells this hub's announcements from other instances': a store sends it along
    /// with what it tells other processes, so its own listener can skip what its
    /// transactions already handed to [`ChangeHub::committed`].
    pub fn origin(&self) -> u128 {
        self.origin
    }

    /// The decision cache this store's changes keep true.
    pub fn decisions(&self) -> &DecisionCache {
        &self.decisions
    }

    /// A transaction committed (here, or in another process) and altered `facts`.
    pub fn committed(&self, facts: &[Fact]) {
        self.decisions.invalidate(facts);
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes of other processes can no longer be heard: nothing cached can be trusted.
    pub fn lost(&self) {
        self.decisions.suspend();
        // Followers waiting for a commit look again: one may have gone unheard.
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes of other processes are heard again (from before anything is read anew).
    pub fn restored(&self) {
        self.decisions.resume();
    }

    /// Wakes on every commit announced to this hub (and on [`ChangeHub::lost`]): what a
    /// follower of the audit trail waits on before it reads again.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_wakes_subscribers() {
        let hub = ChangeHub::local(NonZeroUsize::new(4).expect("non-zero"));
        let mut woken = hub.subscribe();
        hub.committed(&[]);
        tokio::time::timeout(std::time::Duration::from_secs(1), woken.changed())
            .await
            .expect("woken in time")
            .expect("hub alive");
    }

    #[test]
    fn a_shared_hub_uses_its_cache_only_while_it_hears_the_others() {
        let capacity = NonZeroUsize::new(4).expect("non-zero");
        assert!(ChangeHub::local(capacity).decisions().stats().enabled);
        let shared = ChangeHub::shared(capacity);
        assert!(!shared.decisions().stats().enabled);
        shared.restored();
        assert!(shared.decisions().stats().enabled);
        shared.lost();
        assert!(!shared.decisions().stats().enabled);
    }
}
