//! An account's audit log as a timeline: filters (action, actor, resource, time range,
//! order), cursor paging, and each change's before and after side by side.

use accountd_domain::{AuditEvent, AuditQueryInput, AuditValue};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::{PAGE_SIZE, account_id, given};
use crate::ConsoleState;
use crate::error::{ConsoleError, field_errors};
use crate::guard::Signed;
use crate::layout::{self, account_header, account_url, input, other_errors, when};

/// The filters, as the form sends them and the next-page link repeats them.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// `GET /console/accounts/{id}/audit`.
pub async fn timeline(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let id = account_id(&id)?;
    let (account, held) = state.services.accounts.get_with_permissions(&signed.principal, id).await?;
    let query = AuditQueryInput {
        since: given(&filters.since),
        before: given(&filters.before),
        action_type: given(&filters.action_type),
        actor_id: given(&filters.actor_id),
        resource_type: given(&filters.resource_type),
        resource_id: given(&filters.resource_id),
        direction: given(&filters.direction),
        page_size: Some(PAGE_SIZE),
        cursor: given(&filters.cursor),
    };
    let (events, next, errors) = match query.validate(id) {
        Err(e) => (Vec::new(), None, e.fields().to_vec()),
        Ok(query) => match state.services.audit.list(&signed.principal, query).await {
            Ok(page) => {
                let next = page.next.map(|c| c.encode());
                (page.items, next, Vec::new())
            }
            Err(e) => (Vec::new(), None, field_errors(&e)?),
        },
    };
    let next_link = next.map(|cursor| {
        let mut more = Filters { cursor: Some(cursor), ..Filters::default() };
        more.action_type = given(&filters.action_type);
        more.actor_id = given(&filters.actor_id);
        more.resource_type = given(&filters.resource_type);
        more.resource_id = given(&filters.resource_id);
        more.since = given(&filters.since);
        more.before = given(&filters.before);
        more.direction = given(&filters.direction);
        format!("{}/audit?{}", account_url(id), serde_urlencoded::to_string(&more).unwrap_or_default())
    });
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        (account_header(&account, held, "Audit log"))
        form.card method="get" action={ (account_url(id)) "/audit" } aria-label="Filters" {
            div.grid {
                (input("f-action", "Action (e.g. account.update)", "action_type", &value(&filters.action_type), &errors, "text"))
                (input("f-actor", "Actor id", "actor_id", &value(&filters.actor_id), &errors, "text"))
                (input("f-rtype", "Resource type", "resource_type", &value(&filters.resource_type), &errors, "text"))
                (input("f-rid", "Resource id", "resource_id", &value(&filters.resource_id), &errors, "text"))
                (input("f-since", "Since (RFC 3339)", "since", &value(&filters.since), &errors, "text"))
                (input("f-before", "Before (RFC 3339)", "before", &value(&filters.before), &errors, "text"))
                div.field {
                    label for="f-direction" { "Order" }
                    select #f-direction name="direction" {
                        option value="desc" selected[filters.direction.as_deref() != Some("asc")] { "newest first" }
                        option value="asc" selected[filters.direction.as_deref() == Some("asc")] { "oldest first" }
                    }
                }
            }
            (other_errors(&errors, &["action_type", "actor_id", "resource_type", "resource_id", "since", "before"]))
            button type="submit" { "Filter" }
        }
        @if events.is_empty() && errors.is_empty() { p.muted { "No events match." } }
        ol.timeline { @for e in &events { (event(e)) } }
        @if let Some(href) = next_link { nav.pager aria-label="Pages" { a rel="next" href=(href) { "Older events" } } }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, layout::page(&format!("Audit log of {}", account.name.as_str()), &signed, body)).into_response())
}

fn event(e: &AuditEvent) -> Markup {
    let before = e.changes.before.as_ref().map(|s| s.fields());
    let after = e.changes.after.as_ref().map(|s| s.fields());
    let mut fields: Vec<&String> = before.iter().chain(after.iter()).flat_map(|m| m.keys()).collect();
    fields.sort();
    fields.dedup();
    let actor = match (&e.actor.email, &e.actor.id) {
        (Some(email), _) => email.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => e.actor.kind.as_str().to_owned(),
    };
    html! {
        li {
            p {
                strong { (e.action) } " · " (e.outcome.as_str()) " · "
                time datetime=(e.occurred_at.to_rfc3339()) { (when(e.occurred_at)) }
            }
            p.muted { "by " (e.actor.kind.as_str()) " " (actor) " on " (e.resource_type) " " code { (e.resource_id) }
                @if let Some(ip) = e.request.ip { " from " (ip) } }
            @if !fields.is_empty() {
                table.diff {
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Before" } th scope="col" { "After" } } }
                    tbody {
                        @for f in fields {
                            tr {
                                th scope="row" { (f) }
                                td.before { (before.and_then(|m| m.get(f)).map(show).unwrap_or_default()) }
                                td.after { (after.and_then(|m| m.get(f)).map(show).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn show(value: &AuditValue) -> String {
    match value {
        AuditValue::Null => "null".to_owned(),
        AuditValue::Bool(b) => b.to_string(),
        AuditValue::Int(i) => i.to_string(),
        AuditValue::Text(t) => t.clone(),
        AuditValue::List(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
    }
}
