//! `accountd.v1.UserService`: users, the caller itself (`GetMe`, `ListMyPermissions`) and its
//! answers to invitations, with their proto conversions.

use accountd_domain::{IfMatch, MyPermissions, Services};
use accountd_domain::{NewUserInput, User, UserPatchInput};
use tonic::{Request, Response, Status};

use crate::account_users;
use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{page_request, permission_names, proto_type, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::UserService`] (and the invitation answer of
/// [`accountd_domain::MemberService`], which REST also serves under `/v1/me`).
#[derive(Debug, Clone)]
pub struct UsersApi {
    services: Services,
}

impl UsersApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

impl From<&User> for pb::User {
    fn from(u: &User) -> Self {
        let name = |n: &Option<accountd_domain::PersonName>| n.as_ref().map(|n| n.as_str().to_owned());
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            first_name: name(&u.first_name).unwrap_or_default(),
            last_name: name(&u.last_name).unwrap_or_default(),
            status: u.status.as_str().to_owned(),
            root_permissions: permission_names(u.root_permissions),
            created_at: Some(timestamp(u.created_at)),
            updated_at: Some(timestamp(u.updated_at)),
            version: u.version.get(),
            etag: u.version.etag(),
        }
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for UsersApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let request = request.into_inner();
        // Empty names reach the domain as given: it treats a blank name as unknown.
        let command = NewUserInput {
            email: Some(request.email),
            first_name: Some(request.first_name),
            last_name: Some(request.last_name),
            root_permissions: request.root_permissions,
        }
        .validate("email", false)
        .map_err(to_status)?;
        let created = self.services.users.create(&caller, command, key).await.map_err(to_status)?;
        Ok(created_response(pb::CreateUserResponse { user: Some((&created.value).into()) }, created.replayed))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let page = page_request(request.page_size, &request.page_token)?;
        let page = self.services.users.list(&caller, page).await.map_err(to_status)?;
        Ok(Response::new(pb::ListUsersResponse {
            next_page_token: page.next_page_token(),
            users: page.items.iter().map(pb::User::from).collect(),
        }))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let id = resource_id(&request.get_ref().user_id, "user_id")?;
        let user = self.services.users.get(&caller, id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetUserResponse { user: Some((&user).into()) }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let id = resource_id(&request.user_id, "user_id")?;
        let patch = UserPatchInput {
            first_name: request.first_name,
            last_name: request.last_name,
            status: request.status,
            root_permissions: request.root_permissions.map(|r| r.permissions),
        }
        .validate()
        .map_err(to_status)?;
        let user =
            self.services.users.update(&caller, id, patch, IfMatch::parse(&request.etag)).await.map_err(to_status)?;
        Ok(Response::new(pb::UpdateUserResponse { user: Some((&user).into()) }))
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Result<Response<pb::GetMeResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let user = self.services.users.me(&caller).await.map_err(to_status)?;
        let mfa = self.services.mfa.status(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::GetMeResponse {
            user: Some((&user).into()),
            mfa_enabled: mfa.enabled(),
            mfa_factors: mfa.factors.iter().map(Into::into).collect(),
        }))
    }

    async fn list_my_permissions(
        &self,
        request: Request<pb::ListMyPermissionsRequest>,
    ) -> Result<Response<pb::ListMyPermissionsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let mine = self.services.users.my_permissions(&caller).await.map_err(to_status)?;
        Ok(Response::new((&mine).into()))
    }

    async fn respond_to_invitation(
        &self,
        request: Request<pb::RespondToInvitationRequest>,
    ) -> Result<Response<pb::RespondToInvitationResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let account = resource_id(&request.account_id, "account_id")?;
        let member = self.services.members.respond(&caller, account, request.accept).await.map_err(to_status)?;
        Ok(Response::new(pb::RespondToInvitationResponse { member: member.as_ref().map(Into::into) }))
    }

    async fn list_account_users(
        &self,
        request: Request<pb::ListAccountUsersRequest>,
    ) -> Result<Response<pb::ListAccountUsersResponse>, Status> {
        account_users::list(&self.services, request).await
    }

    async fn create_account_user(
        &self,
        request: Request<pb::CreateAccountUserRequest>,
    ) -> Result<Response<pb::CreateAccountUserResponse>, Status> {
        account_users::create(&self.services, request).await
    }

    async fn get_account_user(
        &self,
        request: Request<pb::GetAccountUserRequest>,
    ) -> Result<Response<pb::GetAccountUserResponse>, Status> {
        account_users::get(&self.services, request).await
    }

    async fn delete_account_user(
        &self,
        request: Request<pb::DeleteAccountUserRequest>,
    ) -> Result<Response<pb::DeleteAccountUserResponse>, Status> {
        account_users::delete(&self.services, request).await
    }

    async fn reset_account_user_mfa(
        &self,
        request: Request<pb::ResetAccountUserMfaRequest>,
    ) -> Result<Response<pb::ResetAccountUserMfaResponse>, Status> {
        account_users::reset_mfa(&self.services, request).await
    }

    async fn enroll_totp(
        &self,
        request: Request<pb::EnrollTotpRequest>,
    ) -> Result<Response<pb::EnrollTotpResponse>, Status> {
        account_users::enroll_totp(&self.services, request).await
    }

    async fn activate_totp(
        &self,
        request: Request<pb::ActivateTotpRequest>,
    ) -> Result<Response<pb::ActivateTotpResponse>, Status> {
        account_users::activate_totp(&self.services, request).await
    }

    async fn verify_totp(
        &self,
        request: Request<pb::VerifyTotpRequest>,
    ) -> Result<Response<pb::VerifyTotpResponse>, Status> {
        account_users::verify_totp(&self.services, request).await
    }

    async fn delete_totp(
        &self,
        request: Request<pb::DeleteTotpRequest>,
    ) -> Result<Response<pb::DeleteTotpResponse>, Status> {
        account_users::delete_totp(&self.services, request).await
    }
}

/// `ListMyPermissions`, which seed 003 puts on `AccountService` and `UserService` serves
/// too: one domain method, one conversion.
impl From<&MyPermissions> for pb::ListMyPermissionsResponse {
    fn from(mine: &MyPermissions) -> Self {
        Self {
            user_id: mine.user_id.to_string(),
            accounts: mine
                .accounts
                .iter()
                .map(|(a, held)| pb::AccountPermissions {
                    account_id: a.id.to_string(),
                    name: a.name.to_string(),
                    r#type: proto_type(a.account_type).into(),
                    permissions: permission_names(*held),
                })
                .collect(),
            root_permissions: permission_names(mine.root_permissions),
        }
    }
}
