//! The decision cache: what a decision reads — a token by its digest, a user, the user's
//! accepted memberships and factor state, an account's place in the tree and its two-factor
//! enforcement — kept in process, bounded (least recently used out first), so a decision
//! about a warm caller costs no database round trip; and [`Deps`]' reads through it.
//!
//! It is kept true by the store's [`ChangeHub`](crate::ChangeHub): every transaction
//! announces the [`Fact`]s its change altered and the hub drops them once it committed,
//! here before `commit` returns and in every other instance within the bound documented in
//! docs/ARCHITECTURE.md. A read that raced a change cannot put back what the change made
//! stale: a fill carries the [`Ticket`] taken before its database read and is kept only if
//! no fact naming what it fills was dropped since (the cache remembers the last
//! [`REMEMBERED_DROPS`] drops; a ticket older than those fills nothing). While the hub
//! cannot hear other instances the cache is suspended: emptied, and every read goes to the
//! database.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::{
    AccountId, Deps, Fact, PermissionSet, Placement, Role, Token, TokenDigest, TokenId, User, UserAccess, UserId,
};

/// What a decision needs of a user besides the user itself: the union of its roles on each
/// account where it is an accepted member, and whether it has an active factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub memberships: Vec<(AccountId, PermissionSet)>,
    pub active_factor: bool,
}

impl From<UserAccess> for Access {
    fn from(access: UserAccess) -> Self {
        let memberships =
            access.memberships.into_iter().map(|(account, roles)| (account, Role::union_of(&roles))).collect();
        Self { memberships, active_factor: access.active_factor }
    }
}

/// Taken before a database read whose answer may be cached: the answer is kept only if no
/// fact naming it was dropped in between (the read may have seen the state before that
/// change).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(Option<u64>);

/// How full the cache is and how well it serves; for metrics and the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// False while the hub cannot hear other instances (everything is read from the store).
    pub enabled: bool,
    pub tokens: usize,
    pub users: usize,
    pub placements: usize,
    pub hits: u64,
    pub misses: u64,
}

/// The in-process cache of what decisions read (see the module documentation).
pub struct DecisionCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How many drops the cache remembers to refuse fills that raced them.
pub(crate) const REMEMBERED_DROPS: usize = 4096;

struct Inner {
    enabled: bool,
    /// Bumped by every drop.
    epoch: u64,
    /// The latest drops with their epochs, oldest first; a fill whose ticket predates one
    /// naming it is refused.
    dropped: VecDeque<(u64, Fact)>,
    /// Tickets older than this fill nothing: the drops since are no longer all remembered.
    floor: u64,
    tokens: LruCache<TokenDigest, Token>,
    /// Which digest each cached token is under, so a token's change finds its entry.
    digests: HashMap<TokenId, TokenDigest>,
    users: LruCache<UserId, User>,
    access: LruCache<UserId, Arc<Access>>,
    placements: LruCache<AccountId, Placement>,
}

impl std::fmt::Debug for DecisionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionCache").field("stats", &self.stats()).finish()
    }
}

/// The default bound: entries of each kind (tokens, users, accounts).
pub const DEFAULT_DECISION_CACHE_CAPACITY: NonZeroUsize = NonZeroUsize::new(100_000).expect("non-zero");

impl DecisionCache {
    /// A cache holding at most `capacity` tokens, as many users and as many accounts.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                enabled: true,
                epoch: 0,
                dropped: VecDeque::with_capacity(REMEMBERED_DROPS),
                floor: 0,
                tokens: LruCache::new(capacity),
                digests: HashMap::new(),
                users: LruCache::new(capacity),
                access: LruCache::new(capacity),
                placements: LruCache::new(capacity),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Changes the bound (the least recently used entries beyond it go).
    pub fn set_capacity(&self, capacity: NonZeroUsize) {
        let mut inner = self.lock();
        inner.tokens.resize(capacity);
        let Inner { tokens, digests, .. } = &mut *inner;
        digests.retain(|_, digest| tokens.contains(digest));
        inner.users.resize(capacity);
        inner.access.resize(capacity);
        inner.placements.resize(capacity);
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            enabled: inner.enabled,
            tokens: inner.tokens.len(),
            users: inner.users.len(),
            placements: inner.placements.len(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Drops what `facts` name. Also bumps the epoch, so no read that began before this
    /// call puts its (possibly stale) answer in.
    pub(crate) fn invalidate(&self, facts: &[Fact]) {
        let mut inner = self.lock();
        inner.epoch += 1;
        for fact in facts {
            inner.remember(*fact);
            match *fact {
                Fact::Token(id) => {
                    if let Some(digest) = inner.digests.remove(&id) {
                        inner.tokens.pop(&digest);
                    }
                }
                Fact::User(id) => {
                    inner.users.pop(&id);
                    inner.access.pop(&id);
                }
                Fact::Account(id) => {
                    inner.placements.pop(&id);
                }
                Fact::AccountDeleted(id) => {
                    inner.placements.pop(&id);
                    // Its tokens went with it, unannounced one by one: a scan, on a rare event.
                    let gone: Vec<TokenDigest> =
                        inner.tokens.iter().filter(|(_, t)| t.account_id == Some(id)).map(|(d, _)| *d).collect();
                    for digest in gone {
                        if let Some(token) = inner.tokens.pop(&digest) {
                            inner.digests.remove(&token.id);
                        }
                    }
                }
                Fact::Everything => inner.clear(),
            }
        }
    }

    /// Empties the cache and serves nothing from it until [`DecisionCache::resume`].
    pub(crate) fn suspend(&self) {
        let mut inner = self.lock();
        inner.enabled = false;
        inner.forget_before_now();
        inner.clear();
    }

    /// Serves from the cache again, starting empty: nothing heard while suspended is known.
    pub(crate) fn resume(&self) {
        let mut inner = self.lock();
        inner.forget_before_now();
        inner.clear();
        inner.enabled = true;
    }

    /// The ticket a read takes before it asks the store.
    pub(crate) fn ticket(&self) -> Ticket {
        let inner = self.lock();
        Ticket(inner.enabled.then_some(inner.epoch))
    }

    pub(crate) fn token(&self, digest: &TokenDigest) -> Option<Token> {
        let found = self.lock().tokens.get(digest).cloned();
        self.count(found.is_some());
        found
    }

    pub(crate) fn user(&self, id: UserId) -> Option<User> {
        let found = self.lock().users.get(&id).cloned();
        self.count(found.is_some());
        found
    }

    pub(crate) fn access(&self, id: UserId) -> Option<Arc<Access>> {
        let found = self.lock().access.get(&id).cloned();
        self.count(found.is_some());
        found
    }

    /// The cached placements among `ids`, and the ids not cached.
    pub(crate) fn placements(&self, ids: &[AccountId]) -> (Vec<Placement>, Vec<AccountId>) {
        let mut inner = self.lock();
        let (mut found, mut missing) = (Vec::with_capacity(ids.len()), Vec::new());
        for id in ids {
            match inner.placements.get(id) {
                Some(placement) => found.push(placement.clone()),
                None => missing.push(*id),
            }
        }
        drop(inner);
        self.count(missing.is_empty());
        (found, missing)
    }

    pub(crate) fn keep_token(&self, ticket: Ticket, digest: TokenDigest, token: &Token) {
        let names = |fact: &Fact| match *fact {
            Fact::Token(id) => id == token.id,
            Fact::AccountDeleted(id) => token.account_id == Some(id),
            _ => false,
        };
        let Some(mut inner) = self.fillable(ticket, names) else { return };
        // A token is under one digest at a time; an entry under another one is stale.
        if let Some(previous) = inner.digests.insert(token.id, digest)
            && previous != digest
        {
            inner.tokens.pop(&previous);
        }
        if let Some((evicted, old)) = inner.tokens.push(digest, token.clone())
            && evicted != digest
        {
            inner.digests.remove(&old.id);
        }
    }

    pub(crate) fn keep_user(&self, ticket: Ticket, user: &User) {
        if let Some(mut inner) = self.fillable(ticket, |fact| *fact == Fact::User(user.id)) {
            inner.users.put(user.id, user.clone());
        }
    }

    pub(crate) fn keep_access(&self, ticket: Ticket, user: UserId, access: &Arc<Access>) {
        if let Some(mut inner) = self.fillable(ticket, |fact| *fact == Fact::User(user)) {
            inner.access.put(user, access.clone());
        }
    }

    pub(crate) fn keep_placements(&self, ticket: Ticket, placements: &[Placement]) {
        for placement in placements {
            let names =
                |fact: &Fact| matches!(*fact, Fact::Account(id) | Fact::AccountDeleted(id) if id == placement.id);
            if let Some(mut inner) = self.fillable(ticket, names) {
                inner.placements.put(placement.id, placement.clone());
            }
        }
    }

    /// The cache, locked, when a fill read with `ticket` may go in: in use, and no drop of
    /// a fact that `names` (or of everything) happened since the ticket was taken.
    fn fillable(&self, ticket: Ticket, names: impl Fn(&Fact) -> bool) -> Option<MutexGuard<'_, Inner>> {
        let inner = self.lock();
        let Ticket(Some(taken)) = ticket else { return None };
        let raced = inner
            .dropped
            .iter()
            .rev()
            .take_while(|(epoch, _)| *epoch > taken)
            .any(|(_, fact)| *fact == Fact::Everything || names(fact));
        (inner.enabled && taken >= inner.floor && !raced).then_some(inner)
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The lock, even after a panic elsewhere while it was held: every entry is a complete
    /// value, and a stale one is at worst what a missed drop would leave, which the epoch
    /// and the next change's drop bound like any other.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn remember(&mut self, fact: Fact) {
        if self.dropped.len() == REMEMBERED_DROPS
            && let Some((epoch, _)) = self.dropped.pop_front()
        {
            // A ticket from that epoch or before could have raced the forgotten drop.
            self.floor = epoch;
        }
        self.dropped.push_back((self.epoch, fact));
    }

    /// No read begun before now may fill anything.
    fn forget_before_now(&mut self) {
        self.epoch += 1;
        self.floor = self.epoch;
        self.dropped.clear();
    }

    fn clear(&mut self) {
        self.tokens.clear();
        self.digests.clear();
        self.users.clear();
        self.access.clear();
        self.placements.clear();
    }
}

impl Deps {
    fn cache(&self) -> &DecisionCache {
        self.store.changes().decisions()
    }

    /// The token whose secret has `digest` and its user, from the cache or with one query.
    pub(crate) async fn token_by_digest(&self, digest: &TokenDigest) -> anyhow::Result<Option<(Token, User)>> {
        let cache = self.cache();
        let ticket = cache.ticket();
        if let Some(token) = cache.token(digest) {
            return Ok(self.user_with(ticket, token.user_id).await?.map(|user| (token, user)));
        }
        let Some((token, user)) = self.store.find_token_by_digest(digest).await? else { return Ok(None) };
        cache.keep_token(ticket, *digest, &token);
        cache.keep_user(ticket, &user);
        Ok(Some((token, user)))
    }

    /// The user `id`, from the cache or with one query.
    pub(crate) async fn cached_user(&self, id: UserId) -> anyhow::Result<Option<User>> {
        self.user_with(self.cache().ticket(), id).await
    }

    async fn user_with(&self, ticket: Ticket, id: UserId) -> anyhow::Result<Option<User>> {
        let cache = self.cache();
        if let Some(user) = cache.user(id) {
            return Ok(Some(user));
        }
        let user = self.store.get_user(id).await?;
        if let Some(user) = &user {
            cache.keep_user(ticket, user);
        }
        Ok(user)
    }

    /// What a decision needs of `user`'s memberships and factors, from the cache or with
    /// one query.
    pub(crate) async fn access_of(&self, user: UserId) -> anyhow::Result<Arc<Access>> {
        let cache = self.cache();
        if let Some(access) = cache.access(user) {
            return Ok(access);
        }
        let ticket = cache.ticket();
        let access = Arc::new(Access::from(self.store.user_access(user).await?));
        cache.keep_access(ticket, user, &access);
        Ok(access)
    }

    /// The placements of those of `ids` that exist, from the cache and at most one query
    /// for the rest, in no particular order.
    pub(crate) async fn placements_of(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Placement>> {
        let cache = self.cache();
        let ticket = cache.ticket();
        let (mut found, missing) = cache.placements(ids);
        if !missing.is_empty() {
            let read = self.store.placements(&missing).await?;
            cache.keep_placements(ticket, &read);
            found.extend(read);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{id, numbered_token, user};

    fn cache() -> DecisionCache {
        DecisionCache::new(NonZeroUsize::new(3).expect("non-zero"))
    }

    fn digest(n: u8) -> TokenDigest {
        TokenDigest([n; 32])
    }

    #[test]
    fn a_kept_token_is_served_until_its_change_drops_it() {
        let cache = cache();
        let token = numbered_token(1);
        cache.keep_token(cache.ticket(), digest(1), &token);
        assert_eq!(cache.token(&digest(1)).map(|t| t.id), Some(token.id));
        cache.invalidate(&[Fact::Token(token.id)]);
        assert!(cache.token(&digest(1)).is_none());
        let stats = cache.stats();
        assert_eq!((stats.tokens, stats.hits, stats.misses), (0, 1, 1));
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = cache();
        let ada = user(8);
        let bob = user(9);
        let ticket = cache.ticket();
        // The change commits while the read is on its way to the database.
        cache.invalidate(&[Fact::User(ada.id)]);
        cache.keep_user(ticket, &ada);
        assert!(cache.user(ada.id).is_none(), "the read may have seen the state before the change");
        cache.keep_user(ticket, &bob);
        assert!(cache.user(bob.id).is_some(), "a change of someone else races nothing");
        cache.keep_user(cache.ticket(), &ada);
        assert!(cache.user(ada.id).is_some());
        let ticket = cache.ticket();
        cache.invalidate(&[Fact::Everything]);
        cache.keep_user(ticket, &bob);
        assert!(cache.user(bob.id).is_none(), "everything races every read");
    }

    #[test]
    fn a_suspended_cache_serves_and_keeps_nothing_and_resumes_empty() {
        let cache = cache();
        let ada = user(8);
        cache.keep_user(cache.ticket(), &ada);
        cache.suspend();
        assert!(cache.user(ada.id).is_none());
        cache.keep_user(cache.ticket(), &ada);
        assert_eq!(cache.stats().users, 0, "nothing is kept while suspended");
        let before = cache.ticket();
        cache.resume();
        cache.keep_user(before, &ada);
        assert_eq!(cache.stats().users, 0, "a read from before the resumption is not kept");
        cache.keep_user(cache.ticket(), &ada);
        assert!(cache.user(ada.id).is_some());
    }

    #[test]
    fn deleting_an_account_drops_its_tokens_and_only_those() {
        let cache = cache();
        let under_acme = numbered_token(1);
        let platform = Token { account_id: None, ..numbered_token(2) };
        cache.keep_token(cache.ticket(), digest(1), &under_acme);
        cache.keep_token(cache.ticket(), digest(2), &platform);
        cache.invalidate(&[Fact::AccountDeleted(id(1))]);
        assert!(cache.token(&digest(1)).is_none());
        assert!(cache.token(&digest(2)).is_some());
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_forgets_the_least_recently_used() {
        let cache = cache();
        let tokens: Vec<Token> = (0..4).map(numbered_token).collect();
        for (n, token) in tokens.iter().enumerate().take(3) {
            cache.keep_token(cache.ticket(), digest(n as u8), token);
        }
        assert!(cache.token(&digest(0)).is_some(), "0 is now the most recently used");
        cache.keep_token(cache.ticket(), digest(3), &tokens[3]);
        assert_eq!(cache.stats().tokens, 3);
        assert!(cache.token(&digest(1)).is_none(), "1 was the least recently used");
        // The evicted token's index entry went with it: dropping it later finds nothing.
        cache.invalidate(&[Fact::Token(tokens[1].id)]);
        assert_eq!(cache.stats().tokens, 3);
        cache.set_capacity(NonZeroUsize::new(1).expect("non-zero"));
        assert_eq!(cache.stats().tokens, 1);
    }

    #[test]
    fn a_rolled_token_is_never_under_its_old_digest() {
        let cache = cache();
        let token = numbered_token(1);
        cache.keep_token(cache.ticket(), digest(1), &token);
        cache.keep_token(cache.ticket(), digest(2), &token);
        assert!(cache.token(&digest(1)).is_none());
        assert!(cache.token(&digest(2)).is_some());
    }

    #[test]
    fn a_read_older_than_every_remembered_drop_is_not_kept() {
        let cache = cache();
        let ada = user(8);
        let ticket = cache.ticket();
        for n in 0..REMEMBERED_DROPS as u128 {
            cache.invalidate(&[Fact::User(user(100 + n).id)]);
        }
        cache.keep_user(ticket, &ada);
        assert!(cache.user(ada.id).is_some(), "the drops since the ticket are all remembered");
        let ticket = cache.ticket();
        for n in 0..=REMEMBERED_DROPS as u128 {
            cache.invalidate(&[Fact::User(user(100 + n).id)]);
        }
        cache.keep_user(ticket, &user(9));
        assert!(cache.user(user(9).id).is_none(), "one drop since the ticket is forgotten");
    }

    #[test]
    fn everything_empties_the_cache() {
        let cache = cache();
        let ada = user(8);
        cache.keep_user(cache.ticket(), &ada);
        cache.keep_token(cache.ticket(), digest(1), &numbered_token(1));
        cache.invalidate(&[Fact::Everything]);
        let stats = cache.stats();
        assert_eq!((stats.tokens, stats.users, stats.placements), (0, 0, 0));
        assert!(stats.enabled);
    }
}
