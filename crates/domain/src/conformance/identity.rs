//! Conformance cases for users, memberships and tokens, and the helpers other cases use
//! to make them.

use super::*;
use crate::NewUserInput;
use crate::Role;
use crate::TokenInput;
use crate::{MemberService, TokenService, UserService};

pub(super) fn users(store: &Arc<dyn Store>) -> UserService {
    UserService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
}

pub(super) async fn user(store: &Arc<dyn Store>, email: &str) -> crate::User {
    let command =
        NewUserInput { email: Some(email.into()), ..Default::default() }.validate("email", false).expect("valid");
    users(store).create(&caller(), command, None).await.expect("create user").value
}

pub(super) async fn member(store: &Arc<dyn Store>, account: &Account, user: &crate::User, roles: &[Role]) {
    MemberService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
        .put(&caller(), account.id, user.id, roles.to_vec())
        .await
        .expect("put member");
}

/// Saves an invitation of `user` to `account` with `role`, straight through the port.
pub(super) async fn invite(
    store: &Arc<dyn Store>,
    account: AccountId,
    user: crate::UserId,
    role: Role,
) -> crate::Member {
    let mut tx = store.begin().await.expect("begin");
    let now = SystemClock.now();
    let invited = crate::Member {
        account_id: account,
        user_id: user,
        roles: vec![role],
        status: crate::MemberStatus::Invited,
        invited_by: None,
        created_at: now,
        updated_at: now,
    };
    tx.save_member(&invited).await.expect("save");
    tx.commit().await.expect("commit");
    invited
}

pub(super) async fn token(store: &Arc<dyn Store>, account: &Account, user: &crate::User) -> crate::IssuedToken {
    token_with(store, account, user, TokenInput::default()).await
}

/// A token of `user` under `account`, made by the system with the fields of `input`.
pub(super) async fn token_with(
    store: &Arc<dyn Store>,
    account: &Account,
    user: &crate::User,
    input: TokenInput,
) -> crate::IssuedToken {
    let fields =
        TokenInput { name: Some("t".into()), user_id: Some(user.id.to_string()), ..input }.validate().expect("valid");
    let created = TokenService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
        .create(&caller(), account.id, fields, None)
        .await
        .expect("create token")
        .value;
    crate::IssuedToken { token: created.resource, secret: created.secret.expect("a first creation shows it") }
}

pub async fn users_round_trip_and_emails_are_unique_ignoring_case(store: Arc<dyn Store>) {
    let ada = user(&store, "Ada@Example.com").await;
    assert_eq!(store.get_user(ada.id).await.expect("get"), Some(ada.clone()));
    let email = crate::EmailAddress::parse("ada@EXAMPLE.com").expect("valid");
    assert_eq!(store.find_user_by_email(&email).await.expect("find"), Some(ada.clone()));
    let again = crate::NewUserInput { email: Some("ADA@example.COM".into()), ..Default::default() }
        .validate("email", false)
        .expect("valid");
    let err = users(&store).create(&caller(), again, None).await.expect_err("taken");
    assert!(matches!(err, crate::UserError::EmailTaken), "{err:?}");
    for i in 0..4 {
        user(&store, &format!("u{i}@example.com")).await;
    }
    let first = store.list_users(PageRequest::parse(Some(3), None).expect("valid")).await.expect("list");
    let rest = store
        .list_users(PageRequest { size: PageSize::parse(Some(3)).expect("v"), after: first.next })
        .await
        .expect("list");
    assert_eq!((first.items.len(), rest.items.len(), rest.next), (3, 2, None));
}

pub async fn memberships_give_roles_on_the_account_and_its_subtree(store: Arc<dyn Store>) {
    use crate::Role;
    let agency = create(&store, "Agency", "agency", None).await;
    let child = create(&store, "Child", "ad_account", Some(agency.id)).await;
    let other = create(&store, "Other", "standard", None).await;
    let ada = user(&store, "ada@example.com").await;
    member(&store, &agency, &ada, &[Role::Viewer, Role::Billing]).await;
    let roles = store.member_roles(ada.id, &[agency.id, child.id, other.id]).await.expect("roles");
    assert_eq!(roles, vec![(agency.id, vec![Role::Billing, Role::Viewer])]);
    // What a decision reads: every accepted membership with its roles, the factor state,
    // and each account's place in the tree with its enforcement.
    let access = store.user_access(ada.id).await.expect("access");
    assert_eq!(access, crate::UserAccess { memberships: roles, active_factor: false });
    let enforce = AccountPatchInput { enforce_twofactor: Some(true), ..Default::default() }.validate().expect("v");
    service(&store).update(&caller(), child.id, enforce, IfMatch::Any).await.expect("enforce");
    let unknown = AccountId::from_uuid(Uuid::now_v7());
    let mut placements = store.placements(&[child.id, other.id, unknown, agency.id]).await.expect("placements");
    placements.sort_by_key(|p| p.id);
    let placed = |a: &Account, enforce_twofactor| crate::Placement {
        id: a.id,
        hierarchy: a.hierarchy.clone(),
        enforce_twofactor,
    };
    assert_eq!(
        placements,
        [placed(&agency, false), placed(&child, true), placed(&other, false)],
        "unknown ids left out"
    );
    assert!(store.placements(&[]).await.expect("none").is_empty());
    let mut tx = store.begin().await.expect("begin");
    tx.insert_factor(&super::mfa::factor(ada.id, crate::FactorStatus::Pending)).await.expect("pending");
    tx.commit().await.expect("commit");
    assert!(!store.user_access(ada.id).await.expect("access").active_factor, "a pending factor is not active");
    super::mfa::insert(&store, &super::mfa::factor(ada.id, crate::FactorStatus::Active)).await;
    assert!(store.user_access(ada.id).await.expect("access").active_factor);
    let visible = store.list_accounts_of_member(ada.id, PageRequest::first(10)).await.expect("visible");
    assert_eq!(visible.items.iter().map(|a| a.id).collect::<Vec<_>>(), [agency.id, child.id]);
    let page = store.list_accounts_of_member(ada.id, PageRequest::first(1)).await.expect("page");
    let next = store
        .list_accounts_of_member(ada.id, PageRequest { size: PageSize::parse(Some(1)).expect("v"), after: page.next })
        .await
        .expect("next");
    assert_eq!((page.items[0].id, next.items[0].id, next.next), (agency.id, child.id, None));
    // An invitation gives nothing until accepted.
    let bob = user(&store, "bob@example.com").await;
    let invited = invite(&store, other.id, bob.id, Role::Administrator).await;
    assert!(store.member_roles(bob.id, &[other.id]).await.expect("roles").is_empty());
    assert_eq!(store.user_access(bob.id).await.expect("access"), crate::UserAccess::default());
    assert!(store.list_accounts_of_member(bob.id, PageRequest::first(10)).await.expect("list").items.is_empty());
    assert_eq!(store.memberships_of(bob.id).await.expect("memberships"), vec![invited.clone()]);
    assert_eq!(store.get_member(other.id, bob.id).await.expect("get"), Some(invited));
    let members = store.list_members(agency.id, PageRequest::first(10)).await.expect("members");
    assert_eq!(members.items.iter().map(|m| m.user_id).collect::<Vec<_>>(), [ada.id]);
}

pub async fn a_token_is_found_by_digest_with_its_user_in_one_lookup(store: Arc<dyn Store>) {
    let account = create(&store, "Tokens", "standard", None).await;
    let ada = user(&store, "ada@example.com").await;
    member(&store, &account, &ada, &[crate::Role::Member]).await;
    let issued = token(&store, &account, &ada).await;
    let (token, user) = store.find_token_by_digest(&issued.secret.digest()).await.expect("lookup").expect("found");
    assert_eq!((token, user), (issued.token.clone(), ada.clone()));
    assert_eq!(store.find_token_by_digest(&crate::TokenSecret::generate().digest()).await.expect("lookup"), None);
    let when = SystemClock.now();
    store.touch_token(issued.token.id, when).await.expect("touch");
    assert_eq!(store.get_token(issued.token.id).await.expect("get").expect("found").last_used_on, Some(when));
    let bob = self::user(&store, "bob@example.com").await;
    member(&store, &account, &bob, &[crate::Role::Member]).await;
    self::token(&store, &account, &bob).await;
    let all = store.list_tokens(account.id, None, PageRequest::first(10)).await.expect("all");
    let adas = store.list_tokens(account.id, Some(ada.id), PageRequest::first(10)).await.expect("ada's");
    assert_eq!((all.items.len(), adas.items.len()), (2, 1));
}

pub async fn rolling_a_token_retires_the_old_secret(store: Arc<dyn Store>) {
    let account = create(&store, "Roll", "standard", None).await;
    let ada = user(&store, "ada@example.com").await;
    member(&store, &account, &ada, &[crate::Role::Member]).await;
    let issued = token(&store, &account, &ada).await;
    let rolled = crate::TokenService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
        .roll(&caller(), account.id, issued.token.id)
        .await
        .expect("roll");
    assert_eq!(store.find_token_by_digest(&issued.secret.digest()).await.expect("old"), None);
    let (found, _) = store.find_token_by_digest(&rolled.secret.digest()).await.expect("new").expect("found");
    assert_eq!(found.id, issued.token.id);
    assert_ne!(found.hint, issued.token.hint);
}

pub async fn deleting_an_account_removes_its_members_and_tokens(store: Arc<dyn Store>) {
    let account = create(&store, "Gone", "standard", None).await;
    let ada = user(&store, "ada@example.com").await;
    member(&store, &account, &ada, &[crate::Role::Member]).await;
    let issued = token(&store, &account, &ada).await;
    service(&store).delete(&caller(), account.id, IfMatch::Any).await.expect("delete");
    assert_eq!(store.get_member(account.id, ada.id).await.expect("member"), None);
    assert_eq!(store.find_token_by_digest(&issued.secret.digest()).await.expect("token"), None);
    assert_eq!(store.get_user(ada.id).await.expect("user"), Some(ada), "users outlive accounts");
}

pub async fn bootstrap_makes_one_root_user_and_refuses_a_second(store: Arc<dyn Store>) {
    let users = users(&store);
    let email = |e: &str| crate::EmailAddress::parse(e).expect("valid");
    let first = users.bootstrap(&caller(), email("root@example.com")).await.expect("bootstrap");
    assert!(first.user.is_root());
    assert_eq!(first.token.account_id, None, "a platform token");
    let (token, user) = store.find_token_by_digest(&first.secret.digest()).await.expect("lookup").expect("found");
    assert_eq!((token.id, user.id), (first.token.id, first.user.id));
    let err = users.bootstrap(&caller(), email("second@example.com")).await.expect_err("a root exists");
    assert!(matches!(err, crate::UserError::RootUserExists), "{err:?}");
    // The root users, and only they, are read (and locked) inside a transaction.
    self::user(&store, "plain@example.com").await;
    let mut tx = store.begin().await.expect("begin");
    let roots: Vec<_> = tx.root_users().await.expect("roots").into_iter().map(|u| u.id).collect();
    assert_eq!(roots, [first.user.id]);
    tx.commit().await.expect("commit");
    assert_eq!(store.root_user_ids().await.expect("root ids"), [first.user.id]);
}
