//! `accountd.v1.TokenService`: API tokens of an account and their proto conversions.
//! Secrets appear only in the CreateToken and RollToken replies.

use accountd_domain::{PolicyInput, Token, TokenInput, TokenSecret};
use accountd_domain::{Services, WithSecret};
use tonic::{Request, Response, Status};

use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{page_request, permission_names, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::TokenService`].
#[derive(Debug, Clone)]
pub struct TokensApi {
    services: Services,
}

impl TokensApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

/// Ids and IP ranges in their canonical text form.
fn strings<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

impl From<&Token> for pb::Token {
    fn from(t: &Token) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.as_str().to_owned(),
            account_id: t.account_id.map(|a| a.to_string()).unwrap_or_default(),
            // Empty when a tenant reads a root user's token.
            user_id: if t.user_hidden { String::new() } else { t.user_id.to_string() },
            // The stored status says `active` for a token past its expiry; show what it is now.
            status: t.status.as_str().to_owned(),
            policies: t
                .policies
                .iter()
                .map(|p| pb::Policy {
                    effect: p.effect.as_str().to_owned(),
                    permission_groups: permission_names(p.permissions),
                    resources: strings(&p.resources),
                })
                .collect(),
            condition: Some(pb::TokenCondition {
                request_ip: Some(pb::RequestIpCondition {
                    r#in: strings(&t.condition.ip_in),
                    not_in: strings(&t.condition.ip_not_in),
                }),
            }),
            not_before: t.not_before.map(timestamp),
            expires_on: t.expires_on.map(timestamp),
            hint: t.hint.clone(),
            last_used_on: t.last_used_on.map(timestamp),
            created_at: Some(timestamp(t.created_at)),
            updated_at: Some(timestamp(t.updated_at)),
        }
    }
}

/// The fields CreateToken and UpdateToken share, as the domain's raw input. Presence follows
/// the proto: an unset `optional` field, `policies` or `condition.request_ip` stays `None`,
/// so the domain keeps (update) or defaults (create) it.
struct TokenRequest {
    name: Option<String>,
    user_id: Option<String>,
    status: Option<String>,
    policies: Option<pb::PolicyList>,
    condition: Option<pb::TokenCondition>,
    not_before: Option<String>,
    expires_on: Option<String>,
}

impl TokenRequest {
    fn into_input(self) -> TokenInput {
        // Both IP lists travel together: a present `request_ip` sets both (see tokens.proto).
        let (ip_in, ip_not_in) = match self.condition.and_then(|c| c.request_ip) {
            Some(ip) => (Some(ip.r#in), Some(ip.not_in)),
            None => (None, None),
        };
        TokenInput {
            name: self.name,
            user_id: self.user_id,
            status: self.status,
            policies: self.policies.map(|list| {
                list.policies
                    .into_iter()
                    .map(|p| PolicyInput {
                        effect: Some(p.effect),
                        permission_groups: p.permission_groups,
                        resources: p.resources,
                    })
                    .collect()
            }),
            ip_in,
            ip_not_in,
            not_before: self.not_before,
            expires_on: self.expires_on,
        }
    }
}

#[tonic::async_trait]
impl pb::token_service_server::TokenService for TokensApi {
    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let page = page_request(request.page_size, &request.page_token)?;
        let account = resource_id(&request.account_id, "account_id")?;
        let page = self.services.tokens.list(&caller, account, page).await.map_err(to_status)?;
        Ok(Response::new(pb::ListTokensResponse {
            next_page_token: page.next_page_token(),
            tokens: page.items.iter().map(pb::Token::from).collect(),
        }))
    }

    async fn get_token(&self, request: Request<pb::GetTokenRequest>) -> Result<Response<pb::GetTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, id) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.token_id, "token_id")?);
        let token = self.services.tokens.get(&caller, account, id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetTokenResponse { token: Some((&token).into()) }))
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let request = request.into_inner();
        let account = resource_id(&request.account_id, "account_id")?;
        let fields = TokenRequest {
            name: request.name,
            user_id: Some(request.user_id),
            status: request.status,
            policies: request.policies,
            condition: request.condition,
            not_before: request.not_before,
            expires_on: request.expires_on,
        }
        .into_input()
        .validate()
        .map_err(to_status)?;
        let created = self.services.tokens.create(&caller, account, fields, key).await.map_err(to_status)?;
        Ok(created_response(issued(&created.value), created.replayed))
    }

    async fn update_token(
        &self,
        request: Request<pb::UpdateTokenRequest>,
    ) -> Result<Response<pb::UpdateTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, id) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.token_id, "token_id")?);
        let fields = TokenRequest {
            name: request.name,
            // A token's user never changes, so UpdateTokenRequest has no field for it.
            user_id: None,
            status: request.status,
            policies: request.policies,
            condition: request.condition,
            not_before: request.not_before,
            expires_on: request.expires_on,
        }
        .into_input()
        .validate()
        .map_err(to_status)?;
        let token = self.services.tokens.update(&caller, account, id, fields).await.map_err(to_status)?;
        Ok(Response::new(pb::UpdateTokenResponse { token: Some((&token).into()) }))
    }

    async fn delete_token(
        &self,
        request: Request<pb::DeleteTokenRequest>,
    ) -> Result<Response<pb::DeleteTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, id) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.token_id, "token_id")?);
        self.services.tokens.delete(&caller, account, id).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteTokenResponse {}))
    }

    async fn verify_token(
        &self,
        request: Request<pb::VerifyTokenRequest>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let account = resource_id(&request.get_ref().account_id, "account_id")?;
        let token = self.services.tokens.verify(&caller, account).await.map_err(to_status)?;
        Ok(Response::new(pb::VerifyTokenResponse {
            id: token.id.to_string(),
            status: token.status.as_str().to_owned(),
            not_before: token.not_before.map(timestamp),
            expires_on: token.expires_on.map(timestamp),
        }))
    }

    async fn roll_token(
        &self,
        request: Request<pb::RollTokenRequest>,
    ) -> Result<Response<pb::RollTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, id) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.token_id, "token_id")?);
        let issued = self.services.tokens.roll(&caller, account, id).await.map_err(to_status)?;
        Ok(Response::new(pb::RollTokenResponse { value: issued.secret.expose().to_owned() }))
    }

    async fn list_permission_groups(
        &self,
        request: Request<pb::ListPermissionGroupsRequest>,
    ) -> Result<Response<pb::ListPermissionGroupsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let account = resource_id(&request.get_ref().account_id, "account_id")?;
        let groups = self.services.tokens.permission_groups(&caller, account).await.map_err(to_status)?;
        Ok(Response::new(pb::ListPermissionGroupsResponse {
            permission_groups: groups
                .into_iter()
                .map(|p| pb::PermissionGroup {
                    id: p.as_str().to_owned(),
                    name: p.title(),
                    scopes: vec!["account".to_owned()],
                })
                .collect(),
        }))
    }

    async fn list_platform_tokens(
        &self,
        request: Request<pb::ListPlatformTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let user = resource_id(&request.user_id, "user_id")?;
        let page = page_request(request.page_size, &request.page_token)?;
        let page = self.services.tokens.list_platform(&caller, user, page).await.map_err(to_status)?;
        Ok(Response::new(pb::ListTokensResponse {
            next_page_token: page.next_page_token(),
            tokens: page.items.iter().map(pb::Token::from).collect(),
        }))
    }

    async fn create_platform_token(
        &self,
        request: Request<pb::CreatePlatformTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let request = request.into_inner();
        let user = resource_id(&request.user_id, "user_id")?;
        let fields = TokenRequest {
            name: request.name,
            user_id: None,
            status: request.status,
            policies: request.policies,
            condition: request.condition,
            not_before: request.not_before,
            expires_on: request.expires_on,
        }
        .into_input()
        .validate()
        .map_err(to_status)?;
        let created = self.services.tokens.create_platform(&caller, user, fields, key).await.map_err(to_status)?;
        Ok(created_response(issued(&created.value), created.replayed))
    }

    async fn delete_platform_token(
        &self,
        request: Request<pb::PlatformTokenRequest>,
    ) -> Result<Response<pb::DeleteTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (user, id) = (resource_id(&request.user_id, "user_id")?, resource_id(&request.token_id, "token_id")?);
        self.services.tokens.delete_platform(&caller, user, id).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteTokenResponse {}))
    }

    async fn roll_platform_token(
        &self,
        request: Request<pb::PlatformTokenRequest>,
    ) -> Result<Response<pb::RollTokenResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (user, id) = (resource_id(&request.user_id, "user_id")?, resource_id(&request.token_id, "token_id")?);
        let issued = self.services.tokens.roll_platform(&caller, user, id).await.map_err(to_status)?;
        Ok(Response::new(pb::RollTokenResponse { value: issued.secret.expose().to_owned() }))
    }
}

/// A created token with its secret, or on an idempotent replay without it, saying so.
fn issued(created: &WithSecret<Token, TokenSecret>) -> pb::CreateTokenResponse {
    pb::CreateTokenResponse {
        token: Some((&created.resource).into()),
        value: created.secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default(),
        secret_omitted: created.secret.is_none(),
    }
}
