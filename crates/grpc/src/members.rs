//! `accountd.v1.MemberService`: members and roles of an account, and their proto conversions.

use accountd_domain::Member;
use accountd_domain::{MemberRef, Role, Services, parse_roles};
use tonic::{Request, Response, Status};

use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{page_request, permission_names, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::MemberService`].
#[derive(Debug, Clone)]
pub struct MembersApi {
    services: Services,
}

impl MembersApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

impl From<&Member> for pb::AccountMember {
    fn from(m: &Member) -> Self {
        Self {
            account_id: m.account_id.to_string(),
            user_id: m.user_id.to_string(),
            roles: m.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            status: m.status.as_str().to_owned(),
            invited_by: m.invited_by.map(|u| u.to_string()).unwrap_or_default(),
            created_at: Some(timestamp(m.created_at)),
            updated_at: Some(timestamp(m.updated_at)),
        }
    }
}

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        Self {
            id: r.as_str().to_owned(),
            name: r.as_str().to_owned(),
            description: r.description().to_owned(),
            permissions: permission_names(r.permissions()),
        }
    }
}

/// The roles a request names; the domain checks them (at least one, each known).
fn roles(names: &[String], role: &str) -> Result<Vec<Role>, Status> {
    parse_roles(names, Some(role)).map_err(to_status)
}

#[tonic::async_trait]
impl pb::member_service_server::MemberService for MembersApi {
    async fn list_account_members(
        &self,
        request: Request<pb::ListAccountMembersRequest>,
    ) -> Result<Response<pb::ListAccountMembersResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let page = page_request(request.page_size, &request.page_token)?;
        let account = resource_id(&request.account_id, "account_id")?;
        let page = self.services.members.list(&caller, account, page).await.map_err(to_status)?;
        Ok(Response::new(pb::ListAccountMembersResponse {
            next_page_token: page.next_page_token(),
            members: page.items.iter().map(pb::AccountMember::from).collect(),
        }))
    }

    async fn get_account_member(
        &self,
        request: Request<pb::GetAccountMemberRequest>,
    ) -> Result<Response<pb::GetAccountMemberResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, user) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.user_id, "user_id")?);
        let member = self.services.members.get(&caller, account, user).await.map_err(to_status)?;
        Ok(Response::new(pb::GetAccountMemberResponse { member: Some((&member).into()) }))
    }

    async fn add_account_member(
        &self,
        request: Request<pb::AddAccountMemberRequest>,
    ) -> Result<Response<pb::AddAccountMemberResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let request = request.into_inner();
        let account = resource_id(&request.account_id, "account_id")?;
        let who = MemberRef::parse(Some(&request.user_id), Some(&request.email)).map_err(to_status)?;
        let roles = roles(&request.roles, "")?;
        let created = self.services.members.add(&caller, account, who, roles, key).await.map_err(to_status)?;
        Ok(created_response(pb::AddAccountMemberResponse { member: Some((&created.value).into()) }, created.replayed))
    }

    async fn put_account_member(
        &self,
        request: Request<pb::PutAccountMemberRequest>,
    ) -> Result<Response<pb::PutAccountMemberResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, user) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.user_id, "user_id")?);
        let roles = roles(&request.roles, &request.role)?;
        let member = self.services.members.put(&caller, account, user, roles).await.map_err(to_status)?;
        Ok(Response::new(pb::PutAccountMemberResponse { member: Some((&member).into()) }))
    }

    async fn delete_account_member(
        &self,
        request: Request<pb::DeleteAccountMemberRequest>,
    ) -> Result<Response<pb::DeleteAccountMemberResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let (account, user) =
            (resource_id(&request.account_id, "account_id")?, resource_id(&request.user_id, "user_id")?);
        self.services.members.delete(&caller, account, user).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteAccountMemberResponse {}))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let account = resource_id(&request.get_ref().account_id, "account_id")?;
        let all = self.services.members.roles(&caller, account).await.map_err(to_status)?;
        Ok(Response::new(pb::ListRolesResponse { roles: all.iter().copied().map(pb::Role::from).collect() }))
    }

    async fn get_role(&self, request: Request<pb::GetRoleRequest>) -> Result<Response<pb::GetRoleResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let account = resource_id(&request.account_id, "account_id")?;
        let role = self.services.members.role(&caller, account, &request.role_id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetRoleResponse { role: Some(role.into()) }))
    }
}
