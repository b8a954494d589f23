//! `/v1/rate_plans` and `/v1/accounts/{account_id}/subscriptions` (seed 004).

use accountd_domain::{RatePlan, Subscription, SubscriptionInput};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{
    Body, Caller, Idempotency, ListParams, Path, Precondition, Query, mark_replayed, page_request, path_id,
};
use crate::problem::{ApiError, Problem};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/rate_plans", get(list_rate_plans))
        .route("/v1/accounts/{account_id}/subscriptions", get(list_subscriptions).post(create_subscription))
        .route(
            "/v1/accounts/{account_id}/subscriptions/{subscription_id}",
            get(get_subscription).put(update_subscription).delete(delete_subscription),
        )
}

/// A plan of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatePlanBody {
    pub id: String,
    pub public_name: String,
    pub currency: String,
    /// The price of one month, in minor units (cents).
    pub monthly_price: i64,
}

impl From<&RatePlan> for RatePlanBody {
    fn from(p: &RatePlan) -> Self {
        Self {
            id: p.id.clone(),
            public_name: p.public_name.clone(),
            currency: p.currency.clone(),
            monthly_price: p.monthly_price,
        }
    }
}

/// The plan a subscription is on.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatePlanRef {
    pub id: String,
    pub public_name: String,
    pub currency: String,
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionBody {
    pub id: String,
    pub account_id: String,
    pub rate_plan: RatePlanRef,
    /// weekly, monthly, quarterly or yearly.
    pub frequency: &'static str,
    /// trial, provisioned, paid, awaiting_payment, cancelled, failed or expired.
    pub state: &'static str,
    /// The price of one period, in minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Subscription> for SubscriptionBody {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id.to_string(),
            account_id: s.account_id.to_string(),
            rate_plan: RatePlanRef {
                id: s.rate_plan.id.clone(),
                public_name: s.rate_plan.public_name.clone(),
                currency: s.rate_plan.currency.clone(),
            },
            frequency: s.frequency.as_str(),
            state: s.state.as_str(),
            price: s.price,
            currency: s.currency.clone(),
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            version: s.version.get(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Subscription fields; on update, absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// A rate plan from `/v1/rate_plans`: its id, or an object with the id (seed 004's
    /// `{"id": "pro"}`, the shape responses carry).
    pub rate_plan: Option<RatePlanField>,
    #[schema(value_type = Option<crate::openapi::FrequencySchema>)]
    pub frequency: Option<String>,
    #[schema(value_type = Option<crate::openapi::SubscriptionStateSchema>)]
    pub state: Option<String>,
}

/// How a request names a rate plan: the bare id, or the object a response carries (only
/// its `id` is read; `public_name` and `currency` are the plan's, so they may be echoed).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RatePlanField {
    Id(String),
    Object(RatePlanId),
}

/// A rate plan named by an object.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RatePlanId {
    #[schema(min_length = 1, max_length = 64)]
    pub id: String,
}

impl RatePlanField {
    fn into_id(self) -> String {
        match self {
            Self::Id(id) | Self::Object(RatePlanId { id }) => id,
        }
    }
}

impl SubscriptionRequest {
    fn validate(self) -> Result<accountd_domain::SubscriptionFields, ApiError> {
        let rate_plan = self.rate_plan.map(RatePlanField::into_id);
        SubscriptionInput { rate_plan, frequency: self.frequency, state: self.state }
            .validate()
            .map_err(|e| ApiError::invalid(&e))
    }
}

/// Plans and subscriptions of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionBody>,
    pub next_page_token: String,
}

/// The rate-plan catalogue, as an object like every other list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatePlanList {
    pub rate_plans: Vec<RatePlanBody>,
}

/// The rate-plan catalogue.
#[utoipa::path(get, path = "/v1/rate_plans", tag = "subscriptions", responses((status = 200, body = RatePlanList)))]
pub async fn list_rate_plans(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<RatePlanList>, ApiError> {
    let plans = state.services.subscriptions.rate_plans(&caller).await?;
    Ok(Json(RatePlanList { rate_plans: plans.iter().map(RatePlanBody::from).collect() }))
}

/// An account's subscriptions (`subscriptions:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/subscriptions", tag = "subscriptions",
    params(("account_id" = String, Path), ListParams), responses((status = 200, body = SubscriptionList)))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = state.services.subscriptions.list(&caller, path_id(&id)?, page).await?;
    Ok(Json(SubscriptionList {
        next_page_token: page.next_page_token(),
        subscriptions: page.items.iter().map(SubscriptionBody::from).collect(),
    }))
}

/// Subscribes the account to a plan (`subscriptions:write`).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/subscriptions", tag = "subscriptions",
    params(("account_id" = String, Path), Idempotency), request_body = SubscriptionRequest,
    responses((status = 201, body = SubscriptionBody), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Path(id): Path<String>,
    Body(body): Body<SubscriptionRequest>,
) -> Result<axum::response::Response, ApiError> {
    let account = path_id(&id)?;
    let created = state.services.subscriptions.create(&caller, account, body.validate()?, key).await?;
    Ok(mark_replayed((StatusCode::CREATED, Json(SubscriptionBody::from(&created.value))), created.replayed))
}

/// One subscription (`subscriptions:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/subscriptions/{subscription_id}", tag = "subscriptions",
    params(("account_id" = String, Path), ("subscription_id" = String, Path)), responses((status = 200, body = SubscriptionBody)))]
pub async fn get_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    let found = state.services.subscriptions.get(&caller, path_id(&account)?, path_id(&id)?).await?;
    Ok(Json(SubscriptionBody::from(&found)))
}

/// Changes plan, frequency or state (`subscriptions:write`); states follow the state machine.
#[utoipa::path(put, path = "/v1/accounts/{account_id}/subscriptions/{subscription_id}", tag = "subscriptions",
    params(("account_id" = String, Path), ("subscription_id" = String, Path)), request_body = SubscriptionRequest,
    responses((status = 200, body = SubscriptionBody), (status = 422, description = "a transition the state machine refuses", body = Problem, content_type = "application/problem+json")))]
pub async fn update_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
    Precondition(precondition): Precondition,
    Body(body): Body<SubscriptionRequest>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    let (account, id) = (path_id(&account)?, path_id(&id)?);
    let updated = state.services.subscriptions.update(&caller, account, id, body.validate()?, precondition).await?;
    Ok(Json(SubscriptionBody::from(&updated)))
}

/// Deletes a subscription (`subscriptions:write`).
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/subscriptions/{subscription_id}", tag = "subscriptions",
    params(("account_id" = String, Path), ("subscription_id" = String, Path)), responses((status = 204, description = "deleted")))]
pub async fn delete_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.services.subscriptions.delete(&caller, path_id(&account)?, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
