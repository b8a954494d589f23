//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::{OpenApi, ToSchema};

use crate::{accounts, health, problem};

/// Account types (seeds 003 and 004).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "describes the strings the API sends; never constructed")]
pub enum AccountTypeSchema {
    Standard,
    Enterprise,
    AdAccount,
    BusinessManager,
    Agency,
}

/// Account statuses (seed 003, plus `suspended`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "describes the strings the API sends; never constructed")]
pub enum AccountStatusSchema {
    Unverified,
    Pending,
    Verified,
    Suspended,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "accountd", description = "Accounts, members, tokens, aliases, subscriptions and audit."),
    paths(
        accounts::list_accounts,
        accounts::create_account,
        accounts::get_account,
        accounts::update_account,
        accounts::delete_account,
        health::healthz,
        health::readyz,
    ),
    components(schemas(problem::Problem, problem::ProblemField, AccountTypeSchema, AccountStatusSchema)),
    tags((name = "accounts", description = "Accounts (tenants)"), (name = "operations", description = "Probes"))
)]
pub struct ApiDoc;
