//! `accountd.v1.SubscriptionService`: rate plans and subscriptions.

use accountd_domain::{IfMatch, Services};
use accountd_domain::{RatePlan, Subscription, SubscriptionFields, SubscriptionInput};
use tonic::{Request, Response, Status};

use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{non_empty, page_request, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::SubscriptionService`].
#[derive(Debug, Clone)]
pub struct SubscriptionsApi {
    services: Services,
}

impl SubscriptionsApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

impl From<&RatePlan> for pb::RatePlan {
    fn from(p: &RatePlan) -> Self {
        Self {
            id: p.id.clone(),
            public_name: p.public_name.clone(),
            currency: p.currency.clone(),
            monthly_price: p.monthly_price,
        }
    }
}

impl From<&Subscription> for pb::Subscription {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id.to_string(),
            account_id: s.account_id.to_string(),
            rate_plan: Some((&s.rate_plan).into()),
            frequency: s.frequency.as_str().to_owned(),
            state: s.state.as_str().to_owned(),
            price: s.price,
            currency: s.currency.clone(),
            current_period_start: Some(timestamp(s.current_period_start)),
            current_period_end: Some(timestamp(s.current_period_end)),
            version: s.version.get(),
            etag: s.version.etag(),
        }
    }
}

fn fields(rate_plan: String, frequency: String, state: String) -> Result<SubscriptionFields, Status> {
    SubscriptionInput { rate_plan: non_empty(rate_plan), frequency: non_empty(frequency), state: non_empty(state) }
        .validate()
        .map_err(to_status)
}

#[tonic::async_trait]
impl pb::subscription_service_server::SubscriptionService for SubscriptionsApi {
    async fn list_rate_plans(
        &self,
        request: Request<pb::ListRatePlansRequest>,
    ) -> Result<Response<pb::ListRatePlansResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let plans = self.services.subscriptions.rate_plans(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::ListRatePlansResponse { rate_plans: plans.iter().map(pb::RatePlan::from).collect() }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let account = resource_id(&r.account_id, "account_id")?;
        let page = page_request(r.page_size, &r.page_token)?;
        let page = self.services.subscriptions.list(&caller, account, page).await.map_err(to_status)?;
        Ok(Response::new(pb::ListSubscriptionsResponse {
            next_page_token: page.next_page_token(),
            subscriptions: page.items.iter().map(pb::Subscription::from).collect(),
        }))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) =
            (resource_id(&r.account_id, "account_id")?, resource_id(&r.subscription_id, "subscription_id")?);
        let found = self.services.subscriptions.get(&caller, account, id).await.map_err(to_status)?;
        Ok(Response::new((&found).into()))
    }

    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let r = request.into_inner();
        let account = resource_id(&r.account_id, "account_id")?;
        let fields = fields(r.rate_plan, r.frequency, r.state)?;
        let created = self.services.subscriptions.create(&caller, account, fields, key).await.map_err(to_status)?;
        Ok(created_response((&created.value).into(), created.replayed))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) =
            (resource_id(&r.account_id, "account_id")?, resource_id(&r.subscription_id, "subscription_id")?);
        let fields = fields(r.rate_plan, r.frequency, r.state)?;
        let updated = self
            .services
            .subscriptions
            .update(&caller, account, id, fields, IfMatch::parse(&r.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new((&updated).into()))
    }

    async fn delete_subscription(
        &self,
        request: Request<pb::DeleteSubscriptionRequest>,
    ) -> Result<Response<pb::DeleteSubscriptionResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) =
            (resource_id(&r.account_id, "account_id")?, resource_id(&r.subscription_id, "subscription_id")?);
        self.services.subscriptions.delete(&caller, account, id).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteSubscriptionResponse {}))
    }
}
