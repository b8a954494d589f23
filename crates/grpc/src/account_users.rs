//! The account-users (seed 002) and MFA RPCs of `accountd.v1.UserService`, with their proto
//! conversions. `users.rs` delegates to these; each calls the same domain method as its
//! REST twin.

use accountd_domain::AccountUser;
use accountd_domain::NewUserInput;
use accountd_domain::Services;
use accountd_domain::{Factor, TotpCode};
use secrecy::ExposeSecret;
use tonic::{Request, Response, Status};

use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{argument_id, invalid, page_request, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

impl From<&AccountUser> for pb::AccountUser {
    fn from(u: &AccountUser) -> Self {
        let name = |n: &Option<accountd_domain::PersonName>| n.as_ref().map(|n| n.as_str().to_owned());
        Self {
            id: u.user.id.to_string(),
            first_name: name(&u.user.first_name).unwrap_or_default(),
            last_name: name(&u.user.last_name).unwrap_or_default(),
            email_address: u.user.email.to_string(),
            group_memberships: u.member.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            status: u.member.status.as_str().to_owned(),
            mfa_enabled: u.mfa_enabled,
        }
    }
}

impl From<&Factor> for pb::MfaFactor {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id.to_string(),
            r#type: "totp".to_owned(),
            status: f.status.as_str().to_owned(),
            created_at: Some(timestamp(f.created_at)),
            activated_at: f.activated_at.map(timestamp),
        }
    }
}

/// An optional code: empty means none was given.
fn optional_code(raw: &str) -> Result<Option<TotpCode>, Status> {
    Some(raw).filter(|c| !c.trim().is_empty()).map(code).transpose()
}

fn code(raw: &str) -> Result<TotpCode, Status> {
    TotpCode::parse(raw).map_err(invalid)
}

pub(crate) async fn list(
    services: &Services,
    request: Request<pb::ListAccountUsersRequest>,
) -> Result<Response<pb::ListAccountUsersResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let request = request.into_inner();
    let account = resource_id(&request.account_id, "account_id")?;
    let page = page_request(request.page_size, &request.page_token)?;
    let list = services.account_users.list(&caller, account, page).await.map_err(to_status)?;
    Ok(Response::new(pb::ListAccountUsersResponse {
        owner: list.owner.as_ref().map(Into::into),
        users: list.users.items.iter().map(Into::into).collect(),
        next_page_token: list.users.next_page_token(),
    }))
}

pub(crate) async fn create(
    services: &Services,
    request: Request<pb::CreateAccountUserRequest>,
) -> Result<Response<pb::CreateAccountUserResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let key = idempotency_key(&request)?;
    let request = request.into_inner();
    let account = resource_id(&request.account_id, "account_id")?;
    let command = NewUserInput {
        email: Some(request.email_address),
        first_name: Some(request.first_name),
        last_name: Some(request.last_name),
        root_permissions: Vec::new(),
    }
    .validate("email_address", true)
    .map_err(to_status)?;
    let created = services.account_users.create(&caller, account, command, key).await.map_err(to_status)?;
    Ok(created_response(pb::CreateAccountUserResponse { user: Some((&created.value).into()) }, created.replayed))
}

pub(crate) async fn get(
    services: &Services,
    request: Request<pb::GetAccountUserRequest>,
) -> Result<Response<pb::GetAccountUserResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let (account, user) = (
        resource_id(&request.get_ref().account_id, "account_id")?,
        resource_id(&request.get_ref().user_id, "user_id")?,
    );
    let user = services.account_users.get(&caller, account, user).await.map_err(to_status)?;
    Ok(Response::new(pb::GetAccountUserResponse { user: Some((&user).into()) }))
}

pub(crate) async fn delete(
    services: &Services,
    request: Request<pb::DeleteAccountUserRequest>,
) -> Result<Response<pb::DeleteAccountUserResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let (account, user) = (
        resource_id(&request.get_ref().account_id, "account_id")?,
        resource_id(&request.get_ref().user_id, "user_id")?,
    );
    services.account_users.delete(&caller, account, user).await.map_err(to_status)?;
    Ok(Response::new(pb::DeleteAccountUserResponse { id: user.to_string() }))
}

pub(crate) async fn reset_mfa(
    services: &Services,
    request: Request<pb::ResetAccountUserMfaRequest>,
) -> Result<Response<pb::ResetAccountUserMfaResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let (account, user) = (
        resource_id(&request.get_ref().account_id, "account_id")?,
        resource_id(&request.get_ref().user_id, "user_id")?,
    );
    services.account_users.reset_mfa(&caller, account, user).await.map_err(to_status)?;
    Ok(Response::new(pb::ResetAccountUserMfaResponse {}))
}

pub(crate) async fn enroll_totp(
    services: &Services,
    request: Request<pb::EnrollTotpRequest>,
) -> Result<Response<pb::EnrollTotpResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let key = idempotency_key(&request)?;
    let code = optional_code(&request.get_ref().code)?;
    let created = services.mfa.enroll_totp(&caller, code, key).await.map_err(to_status)?;
    let setup = created.value.secret.as_ref();
    let response = pb::EnrollTotpResponse {
        factor: Some((&created.value.resource).into()),
        secret: setup.map(|s| s.secret.expose_secret().to_owned()).unwrap_or_default(),
        otpauth_uri: setup.map(|s| s.otpauth_uri.expose_secret().to_owned()).unwrap_or_default(),
        secret_omitted: setup.is_none(),
    };
    Ok(created_response(response, created.replayed))
}

pub(crate) async fn activate_totp(
    services: &Services,
    request: Request<pb::ActivateTotpRequest>,
) -> Result<Response<pb::ActivateTotpResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let request = request.into_inner();
    // Optional, so not the resource the RPC names: a malformed one is invalid input, as in REST.
    let factor = Some(request.factor_id.as_str())
        .filter(|f| !f.trim().is_empty())
        .map(|f| argument_id(f, "factor_id"))
        .transpose()?;
    let activated = services.mfa.activate_totp(&caller, factor, code(&request.code)?).await.map_err(to_status)?;
    Ok(Response::new(pb::ActivateTotpResponse { factor: Some((&activated).into()) }))
}

pub(crate) async fn verify_totp(
    services: &Services,
    request: Request<pb::VerifyTotpRequest>,
) -> Result<Response<pb::VerifyTotpResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let code = code(&request.get_ref().code)?;
    let factor = services.mfa.verify_totp(&caller, code).await.map_err(to_status)?;
    Ok(Response::new(pb::VerifyTotpResponse { factor_id: factor.to_string() }))
}

pub(crate) async fn delete_totp(
    services: &Services,
    request: Request<pb::DeleteTotpRequest>,
) -> Result<Response<pb::DeleteTotpResponse>, Status> {
    let caller = caller(&request, &services.authenticator).await?;
    let id = resource_id(&request.get_ref().factor_id, "factor_id")?;
    let code = optional_code(&request.get_ref().code)?;
    services.mfa.delete_totp(&caller, id, code).await.map_err(to_status)?;
    Ok(Response::new(pb::DeleteTotpResponse {}))
}
