//! An account's API tokens: list (with last use), create and roll (the secret shown once, on
//! the answer to the post itself, never stored or shown again), revoke.

use accountd_domain::{Account, AccountId, FieldError, Page, Permission, PermissionSet, Token, TokenId, TokenInput};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{account_id, given, page_after};
use crate::ConsoleState;
use crate::error::{ConsoleError, field_errors};
use crate::guard::{Post, Signed};
use crate::layout::{self, account_header, account_url, csrf, input, notice, other_errors, when};

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    after: Option<String>,
    done: Option<String>,
}

fn tokens_url(id: AccountId) -> String {
    format!("{}/tokens", account_url(id))
}

fn token_id(raw: &str) -> Result<TokenId, ConsoleError> {
    TokenId::parse(raw, "token_id").map_err(|_| ConsoleError::not_found())
}

/// `GET /console/accounts/{id}/tokens`.
pub async fn list(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ConsoleError> {
    let id = account_id(&id)?;
    Ok(render(&state, &signed, id, &params, None, &[]).await?.into_response())
}

/// A secret to show once at the top of the page.
struct Revealed<'a> {
    name: &'a str,
    secret: &'a str,
}

async fn render(
    state: &ConsoleState,
    signed: &Signed,
    id: AccountId,
    params: &ListParams,
    revealed: Option<Revealed<'_>>,
    errors: &[FieldError],
) -> Result<axum::response::Html<String>, ConsoleError> {
    let (account, held) = state.services.accounts.get_with_permissions(&signed.principal, id).await?;
    let tokens = state.services.tokens.list(&signed.principal, id, page_after(params.after.as_deref())?).await?;
    let body = html! {
        (account_header(&account, held, "Tokens"))
        (notice(params.done.as_deref()))
        @if let Some(r) = revealed {
            section.card role="status" aria-labelledby="secret-title" {
                h2 #secret-title { "Secret of " (r.name) }
                p { "Copy it now: it is shown only this once and cannot be shown again." }
                p.secret #token-secret { (r.secret) }
            }
        }
        (table(signed, &account, held, &tokens))
        @if held.contains(Permission::TokensWrite) { (create_form(signed, &account, errors)) }
    };
    Ok(layout::page(&format!("Tokens of {}", account.name.as_str()), signed, body))
}

fn table(signed: &Signed, account: &Account, held: PermissionSet, tokens: &Page<Token>) -> Markup {
    let write = held.contains(Permission::TokensWrite);
    let now = chrono::Utc::now();
    html! {
        @if tokens.items.is_empty() { p.muted { "No tokens." } } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Ends with" }
                    th scope="col" { "Permissions" } th scope="col" { "Last used" } th scope="col" { "Expires" }
                    @if write { th scope="col" { "Actions" } }
                } }
                tbody {
                    @for t in &tokens.items {
                        tr {
                            td { (t.name.as_str()) }
                            td { (t.status_at(now).as_str()) }
                            td { code { (t.hint) } }
                            td { @for p in &t.policies { (p.effect.as_str()) ": " (p.permissions.names().join(", ")) br; } }
                            td { @if let Some(at) = t.last_used_on { (when(at)) } @else { span.muted { "never" } } }
                            td { @if let Some(at) = t.expires_on { (when(at)) } @else { span.muted { "never" } } }
                            @if write {
                                td {
                                    form.inline method="post" action={ (tokens_url(account.id)) "/" (t.id) "/roll" } {
                                        (csrf(signed))
                                        button type="submit" aria-label={ "Roll " (t.name.as_str()) } { "Roll" }
                                    }
                                    form.inline method="post" action={ (tokens_url(account.id)) "/" (t.id) "/revoke" } {
                                        (csrf(signed))
                                        button.danger type="submit" aria-label={ "Revoke " (t.name.as_str()) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = tokens.next {
            nav.pager aria-label="Pages" { a rel="next" href={ (tokens_url(account.id)) "?after=" (next.encode()) } { "Next page" } }
        }
    }
}

fn create_form(signed: &Signed, account: &Account, errors: &[FieldError]) -> Markup {
    html! {
        form.card method="post" action=(tokens_url(account.id)) {
            h2 { "Create a token" }
            p.muted { "It may do what you may do on this account; its secret is shown once." }
            (csrf(signed))
            (input("token-name", "Name", "name", "", errors, "text"))
            (input("token-expires", "Expires on (RFC 3339, optional)", "expires_on", "", errors, "text"))
            (other_errors(errors, &["name", "expires_on"]))
            button type="submit" { "Create token" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    name: Option<String>,
    expires_on: Option<String>,
}

/// `POST /console/accounts/{id}/tokens`: the answer shows the secret, once.
pub async fn create(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    post: Post<CreateForm>,
) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let id = account_id(&id)?;
    let input = TokenInput { name: form.name, expires_on: given(&form.expires_on), ..Default::default() };
    let errors = match input.validate() {
        Err(e) => e.fields().to_vec(),
        Ok(fields) => match state.services.tokens.create(&signed.principal, id, fields, None).await {
            Ok(created) => {
                let token = &created.value.resource;
                let secret = created.value.secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
                let revealed = Revealed { name: token.name.as_str(), secret: &secret };
                let page = render(&state, &signed, id, &ListParams::default(), Some(revealed), &[]).await?;
                return Ok((StatusCode::CREATED, page).into_response());
            }
            Err(e) => field_errors(&e)?,
        },
    };
    let page = render(&state, &signed, id, &ListParams::default(), None, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /console/accounts/{id}/tokens/{token}/roll`: a new secret, shown once; the old one
/// stops working.
pub async fn roll(
    State(state): State<ConsoleState>,
    Path((id, token)): Path<(String, String)>,
    post: Post<Empty>,
) -> Result<Response, ConsoleError> {
    let signed = post.signed;
    let (id, token) = (account_id(&id)?, token_id(&token)?);
    let issued = state.services.tokens.roll(&signed.principal, id, token).await?;
    let secret = issued.secret.expose().to_owned();
    let revealed = Revealed { name: issued.token.name.as_str(), secret: &secret };
    Ok(render(&state, &signed, id, &ListParams::default(), Some(revealed), &[]).await?.into_response())
}

/// `POST /console/accounts/{id}/tokens/{token}/revoke`: deletes the token.
pub async fn revoke(
    State(state): State<ConsoleState>,
    Path((id, token)): Path<(String, String)>,
    post: Post<Empty>,
) -> Result<Response, ConsoleError> {
    let (id, token) = (account_id(&id)?, token_id(&token)?);
    state.services.tokens.delete(&post.signed.principal, id, token).await?;
    Ok(Redirect::to(&format!("{}?done=revoked", tokens_url(id))).into_response())
}
