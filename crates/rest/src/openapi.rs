//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{account_users, accounts, aliases, audit, health, me, members, mfa, problem, subscriptions, tokens, users};

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
        accounts::move_account,
        accounts::get_profile,
        accounts::update_profile,
        users::list_users,
        users::create_user,
        users::get_user,
        users::update_user,
        me::me,
        me::my_permissions,
        me::respond,
        members::list_members,
        members::add_member,
        members::get_member,
        members::put_member,
        members::delete_member,
        members::list_roles,
        members::get_role,
        tokens::list_tokens,
        tokens::create_token,
        tokens::get_token,
        tokens::update_token,
        tokens::delete_token,
        tokens::roll_token,
        tokens::verify_token,
        tokens::permission_groups,
        tokens::list_platform_tokens,
        tokens::create_platform_token,
        tokens::delete_platform_token,
        tokens::roll_platform_token,
        audit::list_audit_logs,
        subscriptions::list_rate_plans,
        subscriptions::list_subscriptions,
        subscriptions::create_subscription,
        subscriptions::get_subscription,
        subscriptions::update_subscription,
        subscriptions::delete_subscription,
        aliases::list_domains,
        aliases::create_domain,
        aliases::get_domain,
        aliases::update_domain,
        aliases::delete_domain,
        aliases::list_domain_aliases,
        aliases::list_aliases,
        aliases::list_account_aliases,
        aliases::create_alias,
        aliases::get_alias,
        aliases::update_alias,
        aliases::delete_alias,
        aliases::reset_password,
        aliases::mailbox_auth,
        account_users::list_account_users,
        account_users::create_account_user,
        account_users::get_account_user,
        account_users::delete_account_user,
        account_users::reset_account_user_mfa,
        mfa::enroll_totp,
        mfa::activate_totp,
        mfa::verify_totp,
        mfa::delete_totp,
        health::healthz,
        health::readyz,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []), ("api_key" = [])),
    components(schemas(problem::Problem, problem::ProblemField, AccountTypeSchema, AccountStatusSchema)),
    tags(
        (name = "accounts", description = "Accounts (tenants)"),
        (name = "users", description = "Platform users (root callers)"),
        (name = "me", description = "The caller"),
        (name = "members", description = "Members and roles of an account"),
        (name = "account users", description = "The owner and users of an account, and their MFA (seed 002)"),
        (name = "tokens", description = "API tokens"),
        (name = "audit", description = "The append-only audit trail"),
        (name = "subscriptions", description = "Rate plans and subscriptions"),
        (name = "operations", description = "Probes; no credentials needed")
    )
)]
pub struct ApiDoc;

/// Declares the two ways to present a token.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
    }
}
