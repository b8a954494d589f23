//! The page shell every console page shares (navigation, sign-out form, main landmark), and
//! the small pieces forms repeat: the CSRF field, a labelled input with its field errors,
//! page links.

use accountd_domain::{Account, AccountId, FieldError, PermissionSet};
use maud::{DOCTYPE, Markup, html};

use crate::guard::Signed;

/// A whole page for a signed-in user.
pub fn page(title: &str, signed: &Signed, body: Markup) -> axum::response::Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · accountd console" }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Console" {
                        a.brand href="/console/" { "accountd" }
                        a href="/console/" { "Accounts" }
                        a href="/console/me" { "Me" }
                        form.inline method="post" action="/console/sign-out" {
                            (csrf(signed))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    };
    axum::response::Html(markup.into_string())
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> axum::response::Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · accountd console" }
                link rel="stylesheet" href="/console/console.css";
            }
            body { main #main { (body) } }
        }
    };
    axum::response::Html(markup.into_string())
}

/// The hidden CSRF field of every form.
pub fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// The errors about `field`, shown under it and tied to it with `aria-describedby`.
pub fn errors_for<'a>(errors: &'a [FieldError], field: &str) -> Vec<&'a FieldError> {
    errors.iter().filter(|e| e.field == field || e.field.starts_with(&format!("{field}."))).collect()
}

/// A labelled text input named `name` with its errors.
pub fn input(id: &str, label: &str, name: &str, value: &str, errors: &[FieldError], kind: &str) -> Markup {
    let mine = errors_for(errors, name);
    let described = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            input #(id) type=(kind) name=(name) value=(value)
                aria-invalid=[(!mine.is_empty()).then_some("true")]
                aria-describedby=[(!mine.is_empty()).then_some(described.as_str())];
            @if !mine.is_empty() {
                p.field-error #(described) role="alert" {
                    @for e in &mine { (e.message) " " }
                }
            }
        }
    }
}

/// The errors no field of the form shows.
pub fn other_errors(errors: &[FieldError], shown: &[&str]) -> Markup {
    let rest: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !shown.iter().any(|f| e.field == *f || e.field.starts_with(&format!("{f}."))))
        .collect();
    html! {
        @if !rest.is_empty() {
            div.error role="alert" { @for e in rest { p { (e.field) ": " (e.message) } } }
        }
    }
}

/// A notice after a redirect, from a fixed set (never text from the URL).
pub fn notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("created") => "Created.",
        Some("saved") => "Saved.",
        Some("moved") => "Moved.",
        Some("invited") => "Invitation sent.",
        Some("roles") => "Roles changed.",
        Some("removed") => "Removed.",
        Some("mfa-reset") => "Two-factor authentication was reset: the user enrols again at next sign-in.",
        Some("revoked") => "Token revoked.",
        Some("activated") => "Factor activated.",
        Some("deleted") => "Deleted.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// The account pages' heading: breadcrumbs of the hierarchy and the tabs.
pub fn account_header(account: &Account, held: PermissionSet, tab: &str) -> Markup {
    use accountd_domain::Permission;
    let id = account.id;
    let tabs: [(&str, String, bool); 4] = [
        ("Overview", format!("/console/accounts/{id}"), true),
        ("Members", format!("/console/accounts/{id}/members"), held.contains(Permission::MembersRead)),
        ("Tokens", format!("/console/accounts/{id}/tokens"), held.contains(Permission::TokensRead)),
        ("Audit log", format!("/console/accounts/{id}/audit"), held.contains(Permission::AuditRead)),
    ];
    html! {
        nav aria-label="Breadcrumb" {
            ol.breadcrumbs {
                li { a href="/console/" { "Accounts" } }
                @for ancestor in &account.hierarchy { li { a href=(account_url(*ancestor)) { (short(*ancestor)) } } }
                li aria-current="page" { (account.name.as_str()) }
            }
        }
        h1 { (account.name.as_str()) " " span.badge { (account.account_type.as_str()) } " " span.badge { (account.status.as_str()) } }
        nav.tabs aria-label="Account" {
            @for (label, href, shown) in tabs {
                @if shown {
                    a href=(href) aria-current=[(label == tab).then_some("page")] { (label) }
                }
            }
        }
    }
}

pub fn account_url(id: AccountId) -> String {
    format!("/console/accounts/{id}")
}

/// The first 8 characters of an id, for breadcrumbs; the link carries the whole id.
pub fn short(id: impl std::fmt::Display) -> String {
    let s = id.to_string();
    format!("{}…", &s[..8.min(s.len())])
}

/// A date as people read it (UTC).
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
