//! The authorization model (docs/ARCHITECTURE.md, "Who may act on whom"): for every
//! operation that acts on another principal, what every actor gets against every target.
//! Shared by the REST suite (`authz_model.rs`) and its gRPC twin, which include this file.
//!
//! The world: account A (an agency) with its owner, an administrator, a member, a billing
//! user, a viewer and an invited (not yet accepted) user; account B of another tenant with
//! its owner and a viewer ("other"); the root user, which is no member anywhere. Actors call
//! with a default token under their account (root: its platform token); "narrowed" is a
//! token of A's administrator allowing only `aliases:read`; "tokens only" is a token of A's
//! member allowing `tokens:read` and `tokens:write` but not `mfa:write`. Its token targets
//! allow only `mfa:write` — narrower than the caller in every role permission, wider only in
//! that token-only grant — so its own user's are refused (F: it would get, by a roll, a
//! secret that manages the user's factors) and other users' are invisible (N).
//!
//! Targets: members and account users are addressed on A; a token target is a fresh token
//! of the target user under its home account (B for "other" and for the other tenant's own
//! tokens, A otherwise — root's included, made for the occasion); "self" is the actor's own
//! user (a second token of it for token operations: for "narrowed", the administrator's
//! full token; for "tokens only", the member's full token). MFA operations act on the
//! caller's own factors only.
//!
//! Outcomes: `Y` allowed (2xx / OK), `F` forbidden (403 / PERMISSION_DENIED), `N` not found
//! (404 / NOT_FOUND: the caller learns nothing), `V` refused with a field error (422 with
//! `errors` / INVALID_ARGUMENT), `P` refused in the current state (422 failed-precondition /
//! FAILED_PRECONDITION), `C` conflict (409 / ALREADY_EXISTS), `-` the same cell as another
//! (the actor is that target) or not applicable.

#![allow(dead_code)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    RollToken,
    UpdateToken,
    DisableToken,
    DeleteToken,
    PutMember,
    DeleteMember,
    InviteMember,
    CreateAccountUser,
    GetAccountUser,
    DeleteAccountUser,
    ResetMfa,
    GetUser,
    UpdateUser,
    SetRootPermissions,
    EnrolTotp,
    ActivateTotp,
    DeleteTotp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Root,
    Owner,
    Admin,
    Member,
    Billing,
    Viewer,
    Narrowed,
    TokensOnly,
    OtherOwner,
}

impl Actor {
    /// The name the suites' worlds key users and tokens by.
    pub fn name(self) -> &'static str {
        match self {
            Actor::Root => "root",
            Actor::Owner => "owner",
            Actor::Admin => "admin",
            Actor::Member => "member",
            Actor::Billing => "billing",
            Actor::Viewer => "viewer",
            Actor::Narrowed => "narrowed",
            Actor::TokensOnly => "tokens_only",
            Actor::OtherOwner => "other_owner",
        }
    }

    /// The user the actor's token acts for: the narrowed and tokens-only tokens are the
    /// administrator's and the member's.
    pub fn user(self) -> &'static str {
        match self {
            Actor::Narrowed => "admin",
            Actor::TokensOnly => "member",
            other => other.name(),
        }
    }
}

/// The user `target` names for `actor` (`Self_` is the actor's own user).
pub fn target_user(actor: Actor, target: Target) -> &'static str {
    match target {
        Target::Self_ => actor.user(),
        Target::Owner => "owner",
        Target::Admin => "admin",
        Target::Member => "member",
        Target::Invited => "invited",
        Target::Other => "other",
        Target::Root => "root",
    }
}

/// The email address of the world's user named `who`.
pub fn email_of(who: &str) -> String {
    match who {
        "admin" => "administrator@example.com".to_owned(),
        "other_owner" => "other-owner@example.com".to_owned(),
        who => format!("{who}@example.com"),
    }
}

/// Rows of every matrix, in this order.
pub const ACTORS: [Actor; 9] = [
    Actor::Root,
    Actor::Owner,
    Actor::Admin,
    Actor::Member,
    Actor::Billing,
    Actor::Viewer,
    Actor::Narrowed,
    Actor::TokensOnly,
    Actor::OtherOwner,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Self_,
    Owner,
    Admin,
    Member,
    Invited,
    Other,
    Root,
}

/// Columns of every matrix, in this order.
pub const TARGETS: [Target; 7] =
    [Target::Self_, Target::Owner, Target::Admin, Target::Member, Target::Invited, Target::Other, Target::Root];

/// The order the cases of one actor run in, on one world: the actor's own user last, so a
/// change to itself (a removal, a demotion) cannot change the other answers.
pub const RUN_ORDER: [Target; 7] =
    [Target::Owner, Target::Admin, Target::Member, Target::Invited, Target::Other, Target::Root, Target::Self_];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
    InvalidField,
    FailedPrecondition,
    Conflict,
}

/// The matrix of each operation: one row per actor (in [`ACTORS`] order), one column per
/// target (in [`TARGETS`] order).
#[rustfmt::skip]
pub const TABLE: &[(Op, [&str; 9])] = &[
    //                         self owner admin member invited other root
    (Op::RollToken, [
        /* root        */ "     Y    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     Y    -     F     F      F      N     F  ",
        /* admin       */ "     Y    F     -     F      F      N     F  ",
        /* member      */ "     Y    N     N     -      N      N     N  ",
        /* billing     */ "     F    F     F     F      F      N     F  ",
        /* viewer      */ "     F    F     F     F      F      N     F  ",
        /* narrowed    */ "     F    F     F     F      F      N     F  ",
        /* tokens only */ "     F    N     N     F      N      N     N  ",
        /* other owner */ "     Y    N     N     N      N      F     N  ",
    ]),
    (Op::UpdateToken, [
        /* root        */ "     Y    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     Y    -     Y     Y      Y      N     F  ",
        /* admin       */ "     Y    F     -     Y      Y      N     F  ",
        /* member      */ "     Y    N     N     -      N      N     N  ",
        /* billing     */ "     F    F     F     F      F      N     F  ",
        /* viewer      */ "     F    F     F     F      F      N     F  ",
        /* narrowed    */ "     F    F     F     F      F      N     F  ",
        /* tokens only */ "     F    N     N     F      N      N     N  ",
        /* other owner */ "     Y    N     N     N      N      Y     N  ",
    ]),
    (Op::DisableToken, [
        /* root        */ "     Y    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     Y    -     Y     Y      Y      N     F  ",
        /* admin       */ "     Y    F     -     Y      Y      N     F  ",
        /* member      */ "     Y    N     N     -      N      N     N  ",
        /* billing     */ "     F    F     F     F      F      N     F  ",
        /* viewer      */ "     F    F     F     F      F      N     F  ",
        /* narrowed    */ "     F    F     F     F      F      N     F  ",
        /* tokens only */ "     F    N     N     F      N      N     N  ",
        /* other owner */ "     Y    N     N     N      N      Y     N  ",
    ]),
    (Op::DeleteToken, [
        /* root        */ "     Y    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     Y    -     Y     Y      Y      N     F  ",
        /* admin       */ "     Y    F     -     Y      Y      N     F  ",
        /* member      */ "     Y    N     N     -      N      N     N  ",
        /* billing     */ "     F    F     F     F      F      N     F  ",
        /* viewer      */ "     F    F     F     F      F      N     F  ",
        /* narrowed    */ "     F    F     F     F      F      N     F  ",
        /* tokens only */ "     F    N     N     F      N      N     N  ",
        /* other owner */ "     Y    N     N     N      N      Y     N  ",
    ]),
    // PUT members/{target} with roles [viewer]: a new membership is an invitation (root adds
    // at once); a user the caller cannot see is not found, like an unknown id.
    (Op::PutMember, [
        /* root        */ "     Y    P     Y     Y      Y      Y     -  ",
        /* owner       */ "     P    -     Y     Y      Y      N     N  ",
        /* admin       */ "     Y    P     -     Y      Y      N     N  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    (Op::DeleteMember, [
        /* root        */ "     N    P     Y     Y      Y      N     -  ",
        /* owner       */ "     P    -     Y     Y      Y      N     N  ",
        /* admin       */ "     Y    P     -     Y      Y      N     N  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    // POST members with the target's user id and roles [viewer]: an invitation, for a user
    // the caller sees (an accepted member of an account where it holds members:read).
    (Op::InviteMember, [
        /* root        */ "     Y    P     C     C      C      Y     -  ",
        /* owner       */ "     P    -     C     C      N      N     N  ",
        /* admin       */ "     C    P     -     C      N      N     N  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    // POST users with the target's email: an invitation in the same shape whether the email
    // is known or not (root adds at once); a member or invited user already is a conflict.
    (Op::CreateAccountUser, [
        /* root        */ "     Y    C     C     C      C      Y     -  ",
        /* owner       */ "     C    -     C     C      C      Y     Y  ",
        /* admin       */ "     C    C     -     C      C      Y     Y  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    (Op::GetAccountUser, [
        /* root        */ "     N    Y     Y     Y      Y      N     -  ",
        /* owner       */ "     Y    -     Y     Y      Y      N     N  ",
        /* admin       */ "     Y    Y     -     Y      Y      N     N  ",
        /* member      */ "     Y    Y     Y     -      Y      N     N  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     Y    Y     Y     Y      Y      N     N  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    (Op::DeleteAccountUser, [
        /* root        */ "     N    V     Y     Y      Y      N     -  ",
        /* owner       */ "     V    -     Y     Y      Y      N     N  ",
        /* admin       */ "     Y    V     -     Y      Y      N     N  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    // Reset-MFA reaches only accepted members of A, never the owner.
    (Op::ResetMfa, [
        /* root        */ "     N    V     Y     Y      N      N     -  ",
        /* owner       */ "     V    -     Y     Y      N      N     N  ",
        /* admin       */ "     Y    V     -     Y      N      N     N  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     N    N     N     N      N      N     N  ",
    ]),
    (Op::GetUser, [
        /* root        */ "     Y    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     Y    -     N     N      N      N     N  ",
        /* admin       */ "     Y    N     -     N      N      N     N  ",
        /* member      */ "     Y    N     N     -      N      N     N  ",
        /* billing     */ "     Y    N     N     N      N      N     N  ",
        /* viewer      */ "     Y    N     N     N      N      N     N  ",
        /* narrowed    */ "     Y    N     Y     N      N      N     N  ",
        /* tokens only */ "     Y    N     N     Y      N      N     N  ",
        /* other owner */ "     Y    N     N     N      N      N     N  ",
    ]),
    (Op::UpdateUser, [
        /* root        */ "     Y    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     F    -     F     F      F      F     F  ",
        /* admin       */ "     F    F     -     F      F      F     F  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     F    F     F     F      F      F     F  ",
    ]),
    // PATCH users/{target} with root_permissions []: the last root cannot demote itself.
    (Op::SetRootPermissions, [
        /* root        */ "     V    Y     Y     Y      Y      Y     -  ",
        /* owner       */ "     F    -     F     F      F      F     F  ",
        /* admin       */ "     F    F     -     F      F      F     F  ",
        /* member      */ "     F    F     F     -      F      F     F  ",
        /* billing     */ "     F    F     F     F      F      F     F  ",
        /* viewer      */ "     F    F     F     F      F      F     F  ",
        /* narrowed    */ "     F    F     F     F      F      F     F  ",
        /* tokens only */ "     F    F     F     F      F      F     F  ",
        /* other owner */ "     F    F     F     F      F      F     F  ",
    ]),
    // The caller's own factors: a token narrowed without mfa:write may not touch them.
    (Op::EnrolTotp, [
        /* root        */ "     Y    -     -     -      -      -     -  ",
        /* owner       */ "     Y    -     -     -      -      -     -  ",
        /* admin       */ "     Y    -     -     -      -      -     -  ",
        /* member      */ "     Y    -     -     -      -      -     -  ",
        /* billing     */ "     Y    -     -     -      -      -     -  ",
        /* viewer      */ "     Y    -     -     -      -      -     -  ",
        /* narrowed    */ "     F    -     -     -      -      -     -  ",
        /* tokens only */ "     F    -     -     -      -      -     -  ",
        /* other owner */ "     Y    -     -     -      -      -     -  ",
    ]),
    (Op::ActivateTotp, [
        /* root        */ "     Y    -     -     -      -      -     -  ",
        /* owner       */ "     Y    -     -     -      -      -     -  ",
        /* admin       */ "     Y    -     -     -      -      -     -  ",
        /* member      */ "     Y    -     -     -      -      -     -  ",
        /* billing     */ "     Y    -     -     -      -      -     -  ",
        /* viewer      */ "     Y    -     -     -      -      -     -  ",
        /* narrowed    */ "     F    -     -     -      -      -     -  ",
        /* tokens only */ "     F    -     -     -      -      -     -  ",
        /* other owner */ "     Y    -     -     -      -      -     -  ",
    ]),
    (Op::DeleteTotp, [
        /* root        */ "     Y    -     -     -      -      -     -  ",
        /* owner       */ "     Y    -     -     -      -      -     -  ",
        /* admin       */ "     Y    -     -     -      -      -     -  ",
        /* member      */ "     Y    -     -     -      -      -     -  ",
        /* billing     */ "     Y    -     -     -      -      -     -  ",
        /* viewer      */ "     Y    -     -     -      -      -     -  ",
        /* narrowed    */ "     F    -     -     -      -      -     -  ",
        /* tokens only */ "     F    -     -     -      -      -     -  ",
        /* other owner */ "     Y    -     -     -      -      -     -  ",
    ]),
];

/// The expected outcome of `op` by `actor` on `target`; `None` for a `-` cell.
pub fn expected(op: Op, actor: Actor, target: Target) -> Option<Outcome> {
    let (_, rows) = TABLE.iter().find(|(o, _)| *o == op).expect("every operation has a matrix");
    let row = rows[ACTORS.iter().position(|a| *a == actor).expect("known actor")];
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.len(), TARGETS.len(), "{op:?}/{actor:?}: one cell per target");
    match cells[TARGETS.iter().position(|t| *t == target).expect("known target")] {
        "Y" => Some(Outcome::Allowed),
        "F" => Some(Outcome::Forbidden),
        "N" => Some(Outcome::NotFound),
        "V" => Some(Outcome::InvalidField),
        "P" => Some(Outcome::FailedPrecondition),
        "C" => Some(Outcome::Conflict),
        "-" => None,
        other => panic!("{op:?}/{actor:?}: unknown cell {other:?}"),
    }
}

/// Every operation of the table.
pub fn operations() -> Vec<Op> {
    TABLE.iter().map(|(op, _)| *op).collect()
}

/// One `#[tokio::test]` per operation, each calling `check(op)` of the suite that invokes
/// it, so the REST and gRPC suites run the same list of operations under the same names.
macro_rules! model_tests {
    () => {
        crate::authz_table::model_tests! {
            roll_token_follows_the_table => RollToken,
            update_token_follows_the_table => UpdateToken,
            disable_token_follows_the_table => DisableToken,
            delete_token_follows_the_table => DeleteToken,
            put_member_follows_the_table => PutMember,
            delete_member_follows_the_table => DeleteMember,
            invite_member_follows_the_table => InviteMember,
            create_account_user_follows_the_table => CreateAccountUser,
            get_account_user_follows_the_table => GetAccountUser,
            delete_account_user_follows_the_table => DeleteAccountUser,
            reset_mfa_follows_the_table => ResetMfa,
            get_user_follows_the_table => GetUser,
            update_user_follows_the_table => UpdateUser,
            set_root_permissions_follows_the_table => SetRootPermissions,
            enrol_totp_follows_the_table => EnrolTotp,
            activate_totp_follows_the_table => ActivateTotp,
            delete_totp_follows_the_table => DeleteTotp,
        }
    };
    ($($name:ident => $op:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(crate::authz_table::Op::$op).await;
            }
        )*
    };
}
pub(crate) use model_tests;

/// The decision API's agreement (issue 12): every actor of the table, on every account of
/// the world — A, the other tenant's B, and C, a child of A that enforces two-factor
/// authentication (no actor has a factor) — and every account permission of [`GATES`]
/// (each with an endpoint that permission alone decides), asks `authorize` / `Check` with
/// its own token. The answer must be `granted` exactly when the endpoint allows, and
/// `not_found`, `forbidden`, `two_factor_required` exactly when it answers 404, 403, 403
/// two-factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Granted,
    NotFound,
    Forbidden,
    TwoFactorRequired,
}

impl Decided {
    /// The decision API's `reason`.
    pub fn from_reason(reason: &str) -> Result<Self, String> {
        Ok(match reason {
            "granted" => Self::Granted,
            "not_found" => Self::NotFound,
            "forbidden" => Self::Forbidden,
            "two_factor_required" => Self::TwoFactorRequired,
            other => return Err(format!("unknown reason {other:?}")),
        })
    }
}

/// The permissions of the agreement, each with the operation on an account that it alone
/// decides: reading the account, renaming it, and listing its members, tokens, aliases,
/// subscriptions and audit trail.
pub const GATES: [&str; 7] = [
    "accounts:read",
    "accounts:write",
    "members:read",
    "tokens:read",
    "aliases:read",
    "subscriptions:read",
    "audit:read",
];

/// The accounts of the agreement, by name.
pub const AGREEMENT_ACCOUNTS: [&str; 3] = ["a", "b", "c"];

/// The account permission an operation of [`TABLE`] needs on the account it acts on (the
/// target token's home for a token operation, A otherwise) before any rule about the
/// target; `None` for operations on users and on the caller's own factors, which no account
/// decides.
pub fn gate(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::RollToken | Op::UpdateToken | Op::DisableToken | Op::DeleteToken => "tokens:write",
        Op::PutMember | Op::DeleteMember | Op::InviteMember | Op::CreateAccountUser | Op::DeleteAccountUser => {
            "members:write"
        }
        Op::GetAccountUser => "members:read",
        Op::ResetMfa => "users:mfa_reset",
        Op::GetUser | Op::UpdateUser | Op::SetRootPermissions | Op::EnrolTotp | Op::ActivateTotp | Op::DeleteTotp => {
            return None;
        }
    })
}

/// Whether a cell's outcome agrees with the decision API's answer about the operation's
/// gate, asked with the actor's token just before the call: a refusal by the decision is the
/// operation's refusal (`not_found` → N, `forbidden` → F); a grant leaves the rules about
/// the target (the table's other letters) to decide.
pub fn agrees(decided: Decided, got: Outcome) -> bool {
    match decided {
        Decided::NotFound => got == Outcome::NotFound,
        Decided::Forbidden => got == Outcome::Forbidden,
        Decided::TwoFactorRequired => got == Outcome::Forbidden,
        Decided::Granted => true,
    }
}
