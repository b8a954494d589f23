//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{
    account_users, accounts, aliases, audit, authorize, events, health, me, members, mfa, problem, subscriptions,
    tokens, users,
};

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

/// A schema for a domain enum (`named_enum!`): its values are the domain's `ALL`, so the
/// document cannot drift from what the server accepts or sends.
macro_rules! domain_enum_schema {
    ($(#[$doc:meta])* $name:ident = $domain:ty $(, except $($skip:ident),+)?) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let skipped: &[$domain] = &[$($(<$domain>::$skip),+)?];
                let names = <$domain>::ALL.iter().filter(|v| !skipped.contains(v)).map(|v| v.as_str());
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).into()
            }
        }

        impl ToSchema for $name {}
    };
}

domain_enum_schema!(
    /// A user's status.
    UserStatusSchema = accountd_domain::UserStatus
);
domain_enum_schema!(
    /// An alias's status.
    AliasStatusSchema = accountd_domain::AliasStatus
);
domain_enum_schema!(
    /// A token's status as a client sets it (`expired` is the server's to say).
    TokenStatusSchema = accountd_domain::TokenStatus, except Expired
);
domain_enum_schema!(
    /// A managed domain's status.
    DomainStatusSchema = accountd_domain::DomainStatus
);
domain_enum_schema!(
    /// How often a subscription renews.
    FrequencySchema = accountd_domain::Frequency
);
domain_enum_schema!(
    /// A subscription's state.
    SubscriptionStateSchema = accountd_domain::SubscriptionState
);
domain_enum_schema!(
    /// Whether a token policy grants or withholds its permissions.
    PolicyEffectSchema = accountd_domain::Effect
);
domain_enum_schema!(
    /// The order of an audit-log page.
    DirectionSchema = accountd_domain::Direction
);
domain_enum_schema!(
    /// A permission name from the fixed catalogue.
    PermissionName = accountd_domain::Permission
);
domain_enum_schema!(
    /// A built-in role.
    RoleName = accountd_domain::Role
);
domain_enum_schema!(
    /// Why a decision's subject is not usable.
    InactiveReasonSchema = accountd_domain::InactiveReason
);
domain_enum_schema!(
    /// The answer to one check of a decision.
    CheckReasonSchema = accountd_domain::CheckReason
);

/// An invited user's answer (`PUT /v1/me/memberships/{account_id}`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "describes the strings the API accepts; never constructed")]
pub enum MembershipAnswerSchema {
    Accepted,
    Rejected,
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
        events::list_events,
        authorize::authorize,
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
    modifiers(&BearerAuth, &ProblemResponses),
    security(("bearer" = []), ("api_key" = [])),
    components(schemas(
        problem::Problem,
        problem::ProblemField,
        AccountTypeSchema,
        AccountStatusSchema,
        UserStatusSchema,
        AliasStatusSchema,
        TokenStatusSchema,
        DomainStatusSchema,
        FrequencySchema,
        SubscriptionStateSchema,
        PolicyEffectSchema,
        MembershipAnswerSchema,
        DirectionSchema,
        PermissionName,
        RoleName,
        InactiveReasonSchema,
        CheckReasonSchema
    )),
    tags(
        (name = "accounts", description = "Accounts (tenants)"),
        (name = "users", description = "Platform users (root callers)"),
        (name = "me", description = "The caller"),
        (name = "members", description = "Members and roles of an account"),
        (name = "account users", description = "The owner and users of an account, and their MFA (seed 002)"),
        (name = "tokens", description = "API tokens"),
        (name = "audit", description = "The append-only audit trail"),
        (name = "events", description = "The ordered event feed: every committed change, with cursors"),
        (name = "authorization", description = "The decision API: what a token or user may do (root authz:check)"),
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

/// The error answers every operation may give, declared once as `components.responses` and
/// referenced from each operation they apply to, so no handler repeats the list:
///
/// - 401 and 403 on every operation that needs credentials;
/// - 404 where the path names a resource; 422 where the request has parameters or a body;
/// - 400 where there is a query string or a body (unreadable), 415 (no JSON content type)
///   where there is a body;
/// - 409 on every write (a duplicate, or a concurrent change of the same resource);
/// - 412 where `If-Match` is accepted; 503 wherever the database is consulted;
/// - 408 on every operation (request and body timeouts), 413 where there is a body (axum's
///   2 MiB body limit);
/// - and on each 2xx answer of an operation taking `Idempotency-Key`, the
///   `Idempotent-Replayed` response header.
///
/// Each handler's annotation keeps its own wording for a status it documents itself. Every
/// response gets a `description` (OpenAPI requires one), every error response the problem
/// schema, and every `*_id` path parameter `format: uuid`, so generated clients and
/// fuzzers know as much as the server checks.
#[derive(Debug)]
struct ProblemResponses;

/// `(status, component name, description)` of the shared error answers.
const SHARED: [(&str, &str, &str); 11] = [
    ("400", "MalformedRequest", "the query string or the body cannot be read (e.g. JSON syntax, a repeated parameter)"),
    ("401", "Unauthenticated", "missing, malformed, unknown, disabled, expired or IP-refused credentials"),
    ("403", "Forbidden", "the caller lacks the permission, or must enrol a second factor first"),
    ("404", "NotFound", "no such resource, or one the caller cannot see"),
    (
        "408",
        "RequestTimeout",
        "the request, or its body, did not arrive (or was not answered) in the server's time limit",
    ),
    ("409", "Conflict", "the resource exists already, or was changed concurrently"),
    ("412", "PreconditionFailed", "`If-Match` names an older version"),
    ("413", "PayloadTooLarge", "the body is larger than the server accepts (2 MiB)"),
    ("415", "UnsupportedMediaType", "the body is not sent as `application/json`"),
    ("422", "ValidationFailed", "invalid input; `errors` names each field"),
    ("503", "ServiceUnavailable", "the database cannot be reached; retry after `Retry-After` seconds"),
];

impl ProblemResponses {
    fn problem_response(description: &str) -> Response {
        let mut response = Response::new(description);
        let schema = RefOr::Ref(Ref::from_schema_name("Problem"));
        response.content.insert("application/problem+json".to_owned(), RefOr::T(Content::new(Some(schema))));
        response
    }

    /// The shared statuses that apply to `operation` at `path`.
    fn applicable(path: &str, method: &str, operation: &Operation) -> Vec<&'static str> {
        let public =
            operation.security.as_ref().is_some_and(|s| s.iter().all(|r| r == &SecurityRequirement::default()));
        let parameters = operation.parameters.as_deref().unwrap_or_default();
        let has_if_match =
            parameters.iter().any(|p| matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case("if-match")));
        let has_body = operation.request_body.is_some();
        let has_query = parameters.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
        // Every request runs under the request and body timeouts (`with_timeouts`).
        let mut statuses = vec!["408"];
        if !public {
            statuses.extend(["401", "403", "503"]);
        } else if path != "/healthz" {
            statuses.push("503");
        }
        if path.contains('{') {
            statuses.push("404");
        }
        if path.contains('{') || !parameters.is_empty() || has_body {
            statuses.push("422");
        }
        if has_body || has_query {
            statuses.push("400");
        }
        if has_body {
            statuses.extend(["413", "415"]);
        }
        if !public && method != "get" {
            statuses.push("409");
        }
        if has_if_match {
            statuses.push("412");
        }
        statuses
    }
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (status, name, description) in SHARED {
            let mut response = Self::problem_response(description);
            if status == "503" {
                response.headers.insert("Retry-After".to_owned(), retry_after());
            }
            components.responses.insert(name.to_owned(), RefOr::T(response));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                for status in Self::applicable(path, method, operation) {
                    let (_, name, _) = SHARED.iter().find(|(s, _, _)| *s == status).expect("a shared status");
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
                let idempotent = operation.parameters.iter().flatten().any(|p| {
                    matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Header
                        && p.name.eq_ignore_ascii_case("idempotency-key"))
                });
                for (status, response) in &mut operation.responses.responses {
                    let RefOr::T(response) = response else { continue };
                    if idempotent && status.starts_with('2') {
                        response.headers.insert("Idempotent-Replayed".to_owned(), replayed_header());
                    }
                    if response.description.is_empty() {
                        response.description = default_description(status).to_owned();
                    }
                    if status.starts_with(['4', '5']) && response.content.is_empty() {
                        let problem = Self::problem_response("");
                        response.content = problem.content;
                    }
                    if status == "429" {
                        response.headers.entry("Retry-After".to_owned()).or_insert_with(retry_after);
                    }
                }
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else { continue };
                    if parameter.parameter_in == ParameterIn::Header {
                        parameter.schema = Some(header_schema(&parameter.name));
                    }
                    let is_id = parameter.name.ends_with("_id") && parameter.name != "role_id";
                    if parameter.parameter_in == ParameterIn::Path
                        && is_id
                        && let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut()
                    {
                        schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Uuid));
                    }
                }
            }
        }
    }
}

/// A request header's schema: a string (a header is never JSON `null`), and for
/// `Idempotency-Key` what `IdempotencyKey::parse` accepts (1–255 visible ASCII characters).
fn header_schema(name: &str) -> RefOr<Schema> {
    let schema = ObjectBuilder::new().schema_type(Type::String);
    let schema = if name.eq_ignore_ascii_case("idempotency-key") {
        schema.min_length(Some(1)).max_length(Some(255)).pattern(Some("^[!-~]+$"))
    } else {
        schema
    };
    schema.into()
}

/// The `Idempotent-Replayed` header of a create's answer: `true` when it replays the first
/// creation with the same `Idempotency-Key` (a secret shown once is then omitted).
fn replayed_header() -> RefOr<Header> {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])));
    header.description = Some(
        "`true` when this answers a replay of the first request with the same `Idempotency-Key` \
         (the resource as it is now; a secret shown once is omitted)"
            .to_owned(),
    );
    RefOr::T(header)
}

/// The `Retry-After` header of 429 and 503 answers: seconds to wait.
fn retry_after() -> RefOr<Header> {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)));
    header.description = Some("seconds to wait before retrying".to_owned());
    RefOr::T(header)
}

/// What a response that states nothing more means.
fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "the requested resource",
        "201" => "created",
        "204" => "done; no content",
        "400" => "malformed request",
        "401" => "unauthenticated",
        "403" => "forbidden",
        "404" => "not found",
        "409" => "conflict",
        "408" => "request timeout",
        "412" => "precondition failed",
        "413" => "payload too large",
        "422" => "invalid input",
        "429" => "too many attempts; retry after `Retry-After` seconds",
        "503" => "service unavailable",
        _ => "see the status code",
    }
}
