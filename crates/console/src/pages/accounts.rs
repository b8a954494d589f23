//! Accounts: the search page (by name prefix or id, keyset-paged), an account's overview
//! with its part of the tree (children you can expand), and the forms that create, rename,
//! set the status or two-factor enforcement of, and move an account.

use accountd_domain::{
    Account, AccountId, AccountNamePrefix, AccountPatchInput, AccountStatus, AccountType, ErrorKind, FieldError,
    HasErrorKind as _, IfMatch, NewAccountInput, Page, Permission, Version,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{account_id, field, given, page_after};
use crate::error::{ConsoleError, field_errors};
use crate::guard::{Post, Signed};
use crate::layout::{self, account_url, csrf, input, notice, other_errors, when};
use crate::{ConsoleState, layout::account_header};

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    after: Option<String>,
}

/// `GET /console/`: the accounts page.
pub async fn home(
    state: State<ConsoleState>,
    signed: Signed,
    params: Query<SearchParams>,
) -> Result<Response, ConsoleError> {
    search(state, signed, params).await
}

/// `GET /console/accounts?q=…&after=…`: accounts whose name starts with `q`, or the one
/// whose id is `q`; without `q`, every account the caller sees, in creation order.
pub async fn search(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(params): Query<SearchParams>,
) -> Result<Response, ConsoleError> {
    let query = given(&params.q);
    let page = page_after(params.after.as_deref())?;
    let mut errors = Vec::new();
    let found: Page<Account> = match query.as_deref() {
        None => state.services.accounts.list(&signed.principal, page).await?,
        Some(q) => {
            if let Ok(id) = AccountId::parse(q, "q") {
                // An id is an exact lookup: straight to the account, or "no match".
                return match state.services.accounts.get(&signed.principal, id).await {
                    Ok(account) => Ok(Redirect::to(&account_url(account.id)).into_response()),
                    Err(e) if ConsoleError::from_domain(&e).is_not_found() => {
                        let empty = Page { items: Vec::new(), next: None };
                        Ok(search_page(&signed, query.as_deref(), &empty, &[], &[]).into_response())
                    }
                    Err(e) => Err(e.into()),
                };
            }
            match AccountNamePrefix::parse(q, "q") {
                Ok(prefix) => state.services.accounts.search(&signed.principal, &prefix, page).await?,
                Err(e) => {
                    errors.push(e);
                    Page { items: Vec::new(), next: None }
                }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, search_page(&signed, query.as_deref(), &found, &errors, &[])).into_response())
}

fn may_create_top_level(signed: &Signed) -> bool {
    signed.principal.root_permissions().contains(Permission::AccountsWrite)
}

fn search_page(
    signed: &Signed,
    query: Option<&str>,
    found: &Page<Account>,
    errors: &[FieldError],
    create_errors: &[FieldError],
) -> axum::response::Html<String> {
    let next = found.next.map(|c| c.encode());
    let body = html! {
        h1 { "Accounts" }
        form.card role="search" method="get" action="/console/accounts" {
            (input("q", "Search by name (prefix) or id", "q", query.unwrap_or(""), errors, "search"))
            button type="submit" { "Search" }
        }
        @if found.items.is_empty() {
            p.muted { @if query.is_some() { "No account matches." } @else { "No accounts yet." } }
        } @else {
            (accounts_table(&found.items))
        }
        @if let Some(next) = next {
            nav.pager aria-label="Pages" {
                a rel="next" href={ "/console/accounts?after=" (next) @if let Some(q) = query { "&q=" (urlencode(q)) } } { "Next page" }
            }
        }
        @if may_create_top_level(signed) {
            (create_form(signed, None, create_errors))
        }
    };
    layout::page("Accounts", signed, body)
}

fn accounts_table(accounts: &[Account]) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Status" } th scope="col" { "Id" } th scope="col" { "Created" } } }
            tbody {
                @for a in accounts {
                    tr {
                        td { a href=(account_url(a.id)) { (a.name.as_str()) } }
                        td { (a.account_type.as_str()) }
                        td { (a.status.as_str()) }
                        td { code { (a.id) } }
                        td { (when(a.created_at)) }
                    }
                }
            }
        }
    }
}

fn create_form(signed: &Signed, parent: Option<AccountId>, errors: &[FieldError]) -> Markup {
    let title = if parent.is_some() { "Create a child account" } else { "Create an account" };
    html! {
        form.card method="post" action="/console/accounts" {
            h2 { (title) }
            (csrf(signed))
            @if let Some(p) = parent { input type="hidden" name="parent_id" value=(p); }
            (input("new-name", "Name", "name", "", errors, "text"))
            div.field {
                label for="new-type" { "Type" }
                select #new-type name="type" {
                    @for t in AccountType::ALL { option value=(t.as_str()) selected[*t == AccountType::Standard] { (t.as_str()) } }
                }
            }
            (other_errors(errors, &["name"]))
            button type="submit" { "Create" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    name: Option<String>,
    #[serde(rename = "type")]
    account_type: Option<String>,
    parent_id: Option<String>,
}

/// `POST /console/accounts`: creates an account (under `parent_id` when given).
pub async fn create(State(state): State<ConsoleState>, post: Post<CreateForm>) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let parent = given(&form.parent_id);
    let input = NewAccountInput {
        name: form.name,
        account_type: given(&form.account_type),
        parent_id: parent.clone(),
        ..Default::default()
    };
    let outcome = match input.validate() {
        Ok(command) => {
            state.services.accounts.create(&signed.principal, command, None).await.map_err(|e| field_errors(&e))
        }
        Err(e) => Err(Ok(e.fields().to_vec())),
    };
    match outcome {
        Ok(created) => {
            Ok(Redirect::to(&format!("{}?done=created", account_url(created.value.account.id))).into_response())
        }
        Err(Err(refused)) => Err(refused),
        Err(Ok(errors)) => match parent.as_deref().map(super::account_id).transpose()? {
            // The form is shown again where it was, with the errors next to its fields.
            Some(parent) => {
                overview_page(&state, &signed, parent, None, &OverviewErrors { create: errors, ..Default::default() })
                    .await
                    .map(|page| (StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
            None => {
                let found = state.services.accounts.list(&signed.principal, page_after(None)?).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, search_page(&signed, None, &found, &[], &errors)).into_response())
            }
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct OverviewParams {
    done: Option<String>,
    /// Children of these accounts are shown too (comma-separated ids): the expanded nodes.
    open: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Default)]
struct OverviewErrors {
    update: Vec<FieldError>,
    moving: Vec<FieldError>,
    create: Vec<FieldError>,
}

/// The most nodes the tree expands at once: each is one keyset query.
const MAX_OPEN: usize = 8;

/// `GET /console/accounts/{id}`.
pub async fn overview(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(params): Query<OverviewParams>,
) -> Result<Response, ConsoleError> {
    let id = account_id(&id)?;
    Ok(overview_page(&state, &signed, id, Some(&params), &OverviewErrors::default()).await?.into_response())
}

async fn overview_page(
    state: &ConsoleState,
    signed: &Signed,
    id: AccountId,
    params: Option<&OverviewParams>,
    errors: &OverviewErrors,
) -> Result<axum::response::Html<String>, ConsoleError> {
    let (account, held) = state.services.accounts.get_with_permissions(&signed.principal, id).await?;
    let open: Vec<AccountId> = params
        .and_then(|p| p.open.as_deref())
        .unwrap_or("")
        .split(',')
        .filter_map(|s| AccountId::parse(s.trim(), "open").ok())
        .take(MAX_OPEN)
        .collect();
    let after = params.and_then(|p| p.after.as_deref());
    let children = if account.account_type.is_container() {
        Some(state.services.accounts.list_children(&signed.principal, id, page_after(after)?).await?)
    } else {
        None
    };
    let mut expanded = Vec::new();
    for node in &open {
        if let Ok(page) = state.services.accounts.list_children(&signed.principal, *node, page_after(None)?).await {
            expanded.push((*node, page));
        }
    }
    let body = html! {
        (account_header(&account, held, "Overview"))
        (notice(params.and_then(|p| p.done.as_deref())))
        div.grid {
            section.card aria-labelledby="facts" {
                h2 #facts { "Account" }
                dl.facts {
                    dt { "Id" } dd { code { (account.id) } }
                    dt { "Type" } dd { (account.account_type.as_str()) }
                    dt { "Status" } dd { (account.status.as_str()) }
                    dt { "Owner" } dd { @if let Some(o) = account.owner_id { code { (o) } } @else { span.muted { "—" } } }
                    dt { "Parent" } dd { @if let Some(p) = account.parent_id() { a href=(account_url(p)) { code { (p) } } } @else { span.muted { "top level" } } }
                    dt { "Two-factor" } dd { @if account.settings.enforce_twofactor { "required for members" } @else { "not required" } }
                    dt { "Abuse contact" } dd { (account.settings.abuse_contact_email.as_ref().map(ToString::to_string).unwrap_or_default()) }
                    dt { "Version" } dd { (account.version.get()) }
                    dt { "Created" } dd { (when(account.created_at)) }
                    dt { "Updated" } dd { (when(account.updated_at)) }
                }
                h2 { "Profile" }
                dl.facts {
                    dt { "Business name" } dd { (account.profile.business_name.clone().unwrap_or_default()) }
                    dt { "Address" } dd { (account.profile.business_address.clone().unwrap_or_default()) }
                    dt { "Email" } dd { (account.profile.business_email.as_ref().map(ToString::to_string).unwrap_or_default()) }
                    dt { "Phone" } dd { (account.profile.business_phone.clone().unwrap_or_default()) }
                }
            }
            @if held.contains(Permission::AccountsWrite) {
                div {
                    (update_form(signed, &account, &errors.update))
                    (move_form(signed, &account, &errors.moving))
                }
            }
        }
        @if let Some(children) = &children {
            section aria-labelledby="tree" {
                h2 #tree { "Child accounts" }
                @if children.items.is_empty() { p.muted { "No child accounts." } }
                @else { div.tree { (tree(&account, &children.items, &expanded, &open)) } }
                @if let Some(next) = children.next {
                    nav.pager aria-label="Child pages" { a rel="next" href={ (account_url(id)) "?after=" (next.encode()) } { "Next children" } }
                }
            }
            @if held.contains(Permission::AccountsWrite) {
                (create_form(signed, Some(id), &errors.create))
            }
        }
    };
    Ok(layout::page(account.name.as_str(), signed, body))
}

/// The children of `root`, each expandable (a link adding it to `open`); an expanded child
/// shows the first page of its own children.
fn tree(root: &Account, children: &[Account], expanded: &[(AccountId, Page<Account>)], open: &[AccountId]) -> Markup {
    fn node(a: &Account, root: &Account, expanded: &[(AccountId, Page<Account>)], open: &[AccountId]) -> Markup {
        let is_open = open.contains(&a.id);
        let toggled: Vec<String> = if is_open {
            open.iter().filter(|o| **o != a.id).map(ToString::to_string).collect()
        } else {
            open.iter().map(ToString::to_string).chain([a.id.to_string()]).collect()
        };
        let href = format!("{}?open={}#tree", account_url(root.id), toggled.join(","));
        html! {
            li {
                @if a.account_type.is_container() {
                    a.toggle href=(href) aria-expanded=(if is_open { "true" } else { "false" })
                        aria-label={ (if is_open { "Collapse " } else { "Expand " }) (a.name.as_str()) } {
                        (if is_open { "▾" } else { "▸" })
                    }
                    " "
                }
                a href=(account_url(a.id)) { (a.name.as_str()) } " "
                span.badge { (a.account_type.as_str()) }
                @if is_open {
                    @if let Some((_, page)) = expanded.iter().find(|(id, _)| *id == a.id) {
                        ul {
                            @for child in &page.items { (node(child, root, expanded, open)) }
                            @if page.next.is_some() { li { a href=(account_url(a.id)) { "more…" } } }
                        }
                    }
                }
            }
        }
    }
    html! { ul { @for a in children { (node(a, root, expanded, open)) } } }
}

fn update_form(signed: &Signed, account: &Account, errors: &[FieldError]) -> Markup {
    let root = signed.principal.root_permissions().contains(Permission::AccountsWrite);
    html! {
        form.card method="post" action=(account_url(account.id)) {
            h2 { "Settings" }
            (csrf(signed))
            input type="hidden" name="version" value=(account.version.get());
            (input("name", "Name", "name", account.name.as_str(), errors, "text"))
            @if root {
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        @for s in AccountStatus::ALL { option value=(s.as_str()) selected[*s == account.status] { (s.as_str()) } }
                    }
                }
            }
            div.field {
                label for="enforce_twofactor" { "Two-factor authentication for members" }
                select #enforce_twofactor name="enforce_twofactor" {
                    option value="false" selected[!account.settings.enforce_twofactor] { "not required" }
                    option value="true" selected[account.settings.enforce_twofactor] { "required" }
                }
                @for e in layout::errors_for(errors, "settings.enforce_twofactor") { p.field-error role="alert" { (e.message) } }
            }
            (input("abuse", "Abuse contact email", "abuse_contact_email",
                &account.settings.abuse_contact_email.as_ref().map(ToString::to_string).unwrap_or_default(), errors_at(errors, "settings.abuse_contact_email", "abuse_contact_email").as_slice(), "email"))
            (other_errors(errors, &["name", "status", "settings"]))
            button type="submit" { "Save" }
        }
    }
}

/// `errors` with `from` renamed `to`, for an input whose form name differs from the path the
/// service names it by.
fn errors_at(errors: &[FieldError], from: &str, to: &str) -> Vec<FieldError> {
    errors.iter().filter(|e| e.field == from).map(|e| FieldError::new(to, e.code, e.message.clone())).collect()
}

fn move_form(signed: &Signed, account: &Account, errors: &[FieldError]) -> Markup {
    let parent = account.parent_id().map(|p| p.to_string()).unwrap_or_default();
    html! {
        form.card method="post" action={ (account_url(account.id)) "/move" } {
            h2 { "Move" }
            (csrf(signed))
            input type="hidden" name="version" value=(account.version.get());
            (input("parent_id", "New parent account id (empty: top level)", "parent_id", &parent, errors, "text"))
            (other_errors(errors, &["parent_id"]))
            button type="submit" { "Move" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    version: Option<i64>,
    name: Option<String>,
    status: Option<String>,
    enforce_twofactor: Option<String>,
    abuse_contact_email: Option<String>,
}

fn if_match(version: Option<i64>) -> IfMatch {
    version.map_or(IfMatch::Any, |v| IfMatch::Versions(vec![Version::new(v)]))
}

/// `POST /console/accounts/{id}`: rename, status (root), two-factor enforcement, abuse contact.
pub async fn update(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    post: Post<UpdateForm>,
) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let id = account_id(&id)?;
    let enforce = match form.enforce_twofactor.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            let errors = field("settings.enforce_twofactor", "unknown_value", "must be required or not required");
            return refused_update(&state, &signed, id, errors).await;
        }
    };
    let patch = AccountPatchInput {
        name: form.name,
        status: given(&form.status),
        abuse_contact_email: form.abuse_contact_email,
        enforce_twofactor: enforce,
    };
    let patch = match patch.validate() {
        Ok(p) => p,
        Err(e) => return refused_update(&state, &signed, id, e.fields().to_vec()).await,
    };
    match state.services.accounts.update(&signed.principal, id, patch, if_match(form.version)).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?done=saved", account_url(id))).into_response()),
        Err(e) => refused_update(&state, &signed, id, field_errors(&e)?).await,
    }
}

async fn refused_update(
    state: &ConsoleState,
    signed: &Signed,
    id: AccountId,
    errors: Vec<FieldError>,
) -> Result<Response, ConsoleError> {
    let page = overview_page(state, signed, id, None, &OverviewErrors { update: errors, ..Default::default() }).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    version: Option<i64>,
    parent_id: Option<String>,
}

/// `POST /console/accounts/{id}/move`.
pub async fn move_account(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    post: Post<MoveForm>,
) -> Result<Response, ConsoleError> {
    let Post { signed, form } = post;
    let id = account_id(&id)?;
    let parent = match given(&form.parent_id) {
        None => None,
        Some(p) => match AccountId::parse(&p, "parent_id") {
            Ok(p) => Some(p),
            Err(e) => return refused_move(&state, &signed, id, vec![e]).await,
        },
    };
    match state.services.accounts.move_account(&signed.principal, id, parent, if_match(form.version)).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?done=moved", account_url(id))).into_response()),
        // A cycle, a leaf or too deep a tree is about the parent chosen: shown next to it.
        Err(e) if matches!(e.kind(), ErrorKind::FailedPrecondition) => {
            refused_move(&state, &signed, id, vec![FieldError::new("parent_id", "refused", e.to_string())]).await
        }
        Err(e) => refused_move(&state, &signed, id, field_errors(&e)?).await,
    }
}

async fn refused_move(
    state: &ConsoleState,
    signed: &Signed,
    id: AccountId,
    errors: Vec<FieldError>,
) -> Result<Response, ConsoleError> {
    let page = overview_page(state, signed, id, None, &OverviewErrors { moving: errors, ..Default::default() }).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// Percent-encodes a query value.
pub fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)]).map(|s| s[2..].to_owned()).unwrap_or_default()
}
