//! `accountd.v1.AuthorizationService`: the decision API, the twin of REST `POST /v1/authorize`.

use accountd_domain::{AuthorizeInput, CheckInput, Decision, Services};
use tonic::{Request, Response, Status};

use crate::caller::caller;
use crate::convert::non_empty;
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::AuthorizationService`].
#[derive(Debug, Clone)]
pub struct AuthorizationApi {
    services: Services,
}

impl AuthorizationApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

/// Written by hand (build.rs skips the generated one): the presented token never shows.
impl std::fmt::Debug for pb::CheckRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckRequest")
            .field("token", &(!self.token.is_empty()).then_some(".."))
            .field("user_id", &self.user_id)
            .field("client_ip", &self.client_ip)
            .field("checks", &self.checks)
            .finish()
    }
}

impl From<pb::CheckRequest> for AuthorizeInput {
    fn from(r: pb::CheckRequest) -> Self {
        Self {
            token: non_empty(r.token),
            user_id: non_empty(r.user_id),
            client_ip: non_empty(r.client_ip),
            checks: r
                .checks
                .into_iter()
                .map(|c| CheckInput { account_id: c.account_id, permission: c.permission })
                .collect(),
        }
    }
}

impl From<Decision> for pb::CheckResponse {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Inactive(reason) => Self { active: false, reason: reason.as_str().to_owned(), ..Self::default() },
            Decision::Active { user_id, token_id, results } => Self {
                active: true,
                reason: String::new(),
                subject: Some(pb::AuthorizationSubject {
                    user_id: user_id.to_string(),
                    token_id: token_id.map(|t| t.to_string()).unwrap_or_default(),
                }),
                results: results
                    .into_iter()
                    .map(|r| pb::AuthorizationCheckResult {
                        allowed: r.allowed(),
                        account_id: r.account_id,
                        permission: r.permission.as_str().to_owned(),
                        reason: r.reason.as_str().to_owned(),
                    })
                    .collect(),
            },
        }
    }
}

#[tonic::async_trait]
impl pb::authorization_service_server::AuthorizationService for AuthorizationApi {
    async fn check(&self, request: Request<pb::CheckRequest>) -> Result<Response<pb::CheckResponse>, Status> {
        let principal = caller(&request, &self.services.authenticator).await?;
        let input = AuthorizeInput::from(request.into_inner()).validate().map_err(to_status)?;
        let decision = self.services.authorization.check(&principal, input).await.map_err(to_status)?;
        Ok(Response::new(decision.into()))
    }
}
