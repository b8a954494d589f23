//! An account's members and users on one page: email, roles, membership status, MFA state;
//! invite, change roles, remove (which also cancels an invitation), reset MFA.

use accountd_domain::{
    Account, AccountId, AccountUser, AccountUsers, ErrorKind, FieldError, HasErrorKind as _, MemberRef, MemberStatus,
    Permission, PermissionSet, Role, parse_roles,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{account_id, page_after, user_id};
use crate::ConsoleState;
use crate::error::{ConsoleError, field_errors};
use crate::guard::{Post, Signed};
use crate::layout::{self, account_header, account_url, csrf, input, notice, other_errors};

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    after: Option<String>,
    done: Option<String>,
}

fn members_url(id: AccountId) -> String {
    format!("{}/members", account_url(id))
}

/// `GET /console/accounts/{id}/members`.
pub async fn list(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ConsoleError> {
    let id = account_id(&id)?;
    let page = render(&state, &signed, id, &params, &[]).await?;
    Ok(page.into_response())
}

async fn render(
    state: &ConsoleState,
    signed: &Signed,
    id: AccountId,
    params: &ListParams,
    invite_errors: &[FieldError],
) -> Result<axum::response::Html<String>, ConsoleError> {
    let (account, held) = state.services.accounts.get_with_permissions(&signed.principal, id).await?;
    let users = state.services.account_users.list(&signed.principal, id, page_after(params.after.as_deref())?).await?;
    Ok(layout::page(
        &format!("Members of {}", account.name.as_str()),
        signed,
        members_page(signed, &account, held, &users, params, invite_errors),
    ))
}

fn members_page(
    signed: &Signed,
    account: &Account,
    held: PermissionSet,
    users: &AccountUsers,
    params: &ListParams,
    invite_errors: &[FieldError],
) -> Markup {
    let write = held.contains(Permission::MembersWrite);
    let reset = held.contains(Permission::UsersMfaReset);
    html! {
        (account_header(account, held, "Members"))
        (notice(params.done.as_deref()))
        table {
            caption.muted { "Members and invitations" }
            thead { tr {
                th scope="col" { "User" } th scope="col" { "Roles" } th scope="col" { "Status" } th scope="col" { "Two-factor" }
                @if write || reset { th scope="col" { "Actions" } }
            } }
            tbody {
                @if let Some(owner) = &users.owner { (row(signed, account, owner, true, write, reset)) }
                @for user in &users.users.items { (row(signed, account, user, false, write, reset)) }
            }
        }
        @if let Some(next) = users.users.next {
            nav.pager aria-label="Pages" { a rel="next" href={ (members_url(account.id)) "?after=" (next.encode()) } { "Next page" } }
        }
        @if write { (invite_form(signed, account, invite_errors)) }
    }
}

fn row(signed: &Signed, account: &Account, u: &AccountUser, owner: bool, write: bool, reset: bool) -> Markup {
    let user = u.user.id;
    let base = format!("{}/{}", members_url(account.id), user);
    let email = u.user.email.to_string();
    html! {
        tr {
            td { (email) @if owner { " " span.badge { "owner" } } br; code.muted { (user) } }
            td { (u.member.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
            td { (u.member.status.as_str()) }
            td { @if u.mfa_enabled { "enabled" } @else { span.muted { "not enrolled" } } }
            @if write || reset {
                td {
                    @if write && !owner {
                        form.inline method="post" action={ (base) "/roles" } {
                            (csrf(signed))
                            label for={ "role-" (user) } { "Role for " (email) }
                            select #{ "role-" (user) } name="role" {
                                @for r in assignable() { option value=(r.as_str()) selected[u.member.roles.first() == Some(r)] { (r.as_str()) } }
                            }
                            button type="submit" { "Change role" }
                        }
                        form.inline method="post" action={ (base) "/remove" } {
                            (csrf(signed))
                            button.danger type="submit" aria-label={ "Remove " (email) } {
                                @if u.member.status == MemberStatus::Invited { "Cancel invitation" } @else { "Remove" }
                            }
                        }
                    }
                    @if reset && u.mfa_enabled {
                        form.inline method="post" action={ (base) "/reset-mfa" } {
                            (csrf(signed))
                            button.danger type="submit" aria-label={ "Reset two-factor of " (email) } { "Reset MFA" }
                        }
                    }
                }
            }
        }
    }
}

/// The roles a form offers: every role but the owner's, which moves only by a transfer.
fn assignable() -> impl Iterator<Item = &'static Role> {
    Role::ALL.iter().filter(|r| **r != Role::Owner)
}

fn invite_form(signed: &Signed, account: &Account, errors: &[FieldError]) -> Markup {
    html! {
        form.card method="post" action=(members_url(account.id)) {
            h2 { "Invite a member" }
            (csrf(signed))
            (input("invite-email", "Email", "email", "", errors, "email"))
            div.field {
                label for="invite-role" { "Role" }
                select #invite-role name="role" {
                    @for r in assignable() { option value=(r.as_str()) selected[*r == Role::Member] { (r.as_str()) } }
                }
                @for e in layout::errors_for(errors, "roles") { p.field-error role="alert" { (e.message) } }
            }
            (other_errors(errors, &["email", "roles", "user_id"]))
            button type="submit" { "Invite" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    email: Option<String>,
    role: Option<String>,
}

/// `POST /console/accounts/{id}/members`: invites by email (a new email makes the user).
pub async fn invite(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    post: Post<InviteForm>,
) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let id = account_id(&id)?;
    let parsed = MemberRef::parse(None, form.email.as_deref())
        .and_then(|who| parse_roles(&[], form.role.as_deref()).map(|roles| (who, roles)));
    let errors = match parsed {
        Err(e) => e.fields().to_vec(),
        Ok((who, roles)) => match state.services.members.add(&signed.principal, id, who, roles, None).await {
            Ok(_) => return Ok(Redirect::to(&format!("{}?done=invited", members_url(id))).into_response()),
            Err(e) => match field_errors(&e) {
                Ok(fields) => fields,
                // Already a member: shown next to the email, where it belongs.
                Err(_) if matches!(e.kind(), ErrorKind::AlreadyExists) => {
                    vec![FieldError::new("email", "already_member", e.to_string())]
                }
                Err(_) if matches!(e.kind(), ErrorKind::FailedPrecondition) => {
                    vec![FieldError::new("roles", "refused", e.to_string())]
                }
                Err(refused) => return Err(refused),
            },
        },
    };
    let page = render(&state, &signed, id, &ListParams::default(), &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    role: Option<String>,
}

/// `POST /console/accounts/{id}/members/{user}/roles`.
pub async fn change_roles(
    State(state): State<ConsoleState>,
    Path((id, user)): Path<(String, String)>,
    post: Post<RoleForm>,
) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let (id, user) = (account_id(&id)?, user_id(&user)?);
    let roles = parse_roles(&[], form.role.as_deref()).map_err(|e| ConsoleError::from_domain(&e))?;
    state.services.members.put(&signed.principal, id, user, roles).await?;
    Ok(Redirect::to(&format!("{}?done=roles", members_url(id))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /console/accounts/{id}/members/{user}/remove`: removes a member or cancels an
/// invitation.
pub async fn remove(
    State(state): State<ConsoleState>,
    Path((id, user)): Path<(String, String)>,
    post: Post<Empty>,
) -> Result<Response, ConsoleError> {
    let (id, user) = (account_id(&id)?, user_id(&user)?);
    state.services.members.delete(&post.signed.principal, id, user).await?;
    Ok(Redirect::to(&format!("{}?done=removed", members_url(id))).into_response())
}

/// `POST /console/accounts/{id}/members/{user}/reset-mfa`.
pub async fn reset_mfa(
    State(state): State<ConsoleState>,
    Path((id, user)): Path<(String, String)>,
    post: Post<Empty>,
) -> Result<Response, ConsoleError> {
    let (id, user) = (account_id(&id)?, user_id(&user)?);
    state.services.account_users.reset_mfa(&post.signed.principal, id, user).await?;
    Ok(Redirect::to(&format!("{}?done=mfa-reset", members_url(id))).into_response())
}
