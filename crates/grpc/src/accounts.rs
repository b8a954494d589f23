//! `accountd.v1.AccountService`: the account RPCs and their proto ↔ domain conversions.

use accountd_domain::{
    Account, AccountPatchInput, AccountProfile, AccountProfileInput, IfMatch, NewAccountInput, Services,
};
use tonic::{Request, Response, Status};

use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{
    argument_id, non_empty, page_request, proto_status, proto_type, resource_id, status_name, timestamp, type_name,
};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::AccountService`].
#[derive(Debug, Clone)]
pub struct AccountsApi {
    services: Services,
}

impl AccountsApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

impl From<&Account> for pb::Account {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            hierarchy: a.hierarchy.iter().map(ToString::to_string).collect(),
            name: a.name.to_string(),
            r#type: proto_type(a.account_type).into(),
            status: proto_status(a.status).into(),
            created_at: Some(timestamp(a.created_at)),
            updated_at: Some(timestamp(a.updated_at)),
            parent_id: a.parent_id().map(|id| id.to_string()).unwrap_or_default(),
            owner_id: a.owner_id.map(|id| id.to_string()).unwrap_or_default(),
            settings: Some(pb::AccountSettings {
                abuse_contact_email: a
                    .settings
                    .abuse_contact_email
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                enforce_twofactor: a.settings.enforce_twofactor,
            }),
            version: a.version.get(),
            etag: a.version.etag(),
        }
    }
}

impl From<&AccountProfile> for pb::AccountProfile {
    fn from(p: &AccountProfile) -> Self {
        Self {
            business_name: p.business_name.clone().unwrap_or_default(),
            business_address: p.business_address.clone().unwrap_or_default(),
            business_email: p.business_email.as_ref().map(ToString::to_string).unwrap_or_default(),
            business_phone: p.business_phone.clone().unwrap_or_default(),
            external_metadata: p.external_metadata.clone().unwrap_or_default(),
        }
    }
}

#[tonic::async_trait]
impl pb::account_service_server::AccountService for AccountsApi {
    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let page = page_request(request.page_size, &request.page_token)?;
        let page = match non_empty(request.parent_id) {
            None => self.services.accounts.list(&caller, page).await.map_err(to_status)?,
            Some(parent) => {
                let parent = argument_id(&parent, "parent_id")?;
                self.services.accounts.list_children(&caller, parent, page).await.map_err(to_status)?
            }
        };
        Ok(Response::new(pb::ListAccountsResponse {
            next_page_token: page.next_page_token(),
            accounts: page.items.iter().map(pb::Account::from).collect(),
        }))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let id = resource_id(&request.get_ref().account_id, "account_id")?;
        let account = self.services.accounts.get(&caller, id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetAccountResponse { account: Some((&account).into()) }))
    }

    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let request = request.into_inner();
        let command = NewAccountInput {
            name: Some(request.name),
            account_type: type_name(request.r#type),
            parent_id: non_empty(request.parent_id),
            owner_id: non_empty(request.user_id),
            abuse_contact_email: request.abuse_contact_email,
            enforce_twofactor: request.enforce_twofactor,
            local_part: non_empty(request.local_part),
            domain_id: non_empty(request.domain_id),
        }
        .validate()
        .map_err(to_status)?;
        let created = self.services.accounts.create(&caller, command, key).await.map_err(to_status)?;
        let response = pb::CreateAccountResponse {
            account: Some((&created.value.account).into()),
            primary_alias: created.value.primary_alias.as_ref().map(pb::Alias::from),
        };
        Ok(created_response(response, created.replayed))
    }

    async fn update_account(
        &self,
        request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::UpdateAccountResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let id = resource_id(&request.account_id, "account_id")?;
        let patch = AccountPatchInput {
            name: request.name,
            status: status_name(request.status),
            abuse_contact_email: request.abuse_contact_email,
            enforce_twofactor: request.enforce_twofactor,
        }
        .validate()
        .map_err(to_status)?;
        let account = self
            .services
            .accounts
            .update(&caller, id, patch, IfMatch::parse(&request.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateAccountResponse { account: Some((&account).into()) }))
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let id = resource_id(&request.account_id, "account_id")?;
        self.services.accounts.delete(&caller, id, IfMatch::parse(&request.etag)).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteAccountResponse {}))
    }

    async fn move_account(
        &self,
        request: Request<pb::MoveAccountRequest>,
    ) -> Result<Response<pb::MoveAccountResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let id = resource_id(&request.account_id, "account_id")?;
        let parent = non_empty(request.parent_id).map(|p| argument_id(&p, "parent_id")).transpose()?;
        let account = self
            .services
            .accounts
            .move_account(&caller, id, parent, IfMatch::parse(&request.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MoveAccountResponse { account: Some((&account).into()) }))
    }

    async fn get_account_profile(
        &self,
        request: Request<pb::GetAccountProfileRequest>,
    ) -> Result<Response<pb::AccountProfile>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let id = resource_id(&request.get_ref().account_id, "account_id")?;
        let profile = self.services.accounts.get_profile(&caller, id).await.map_err(to_status)?;
        Ok(Response::new((&profile).into()))
    }

    async fn update_account_profile(
        &self,
        request: Request<pb::UpdateAccountProfileRequest>,
    ) -> Result<Response<pb::AccountProfile>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let request = request.into_inner();
        let id = resource_id(&request.account_id, "account_id")?;
        let p = request.profile.unwrap_or_default();
        let profile = AccountProfileInput {
            business_name: non_empty(p.business_name),
            business_address: non_empty(p.business_address),
            business_email: non_empty(p.business_email),
            business_phone: non_empty(p.business_phone),
            external_metadata: non_empty(p.external_metadata),
        }
        .validate()
        .map_err(to_status)?;
        let account = self
            .services
            .accounts
            .update_profile(&caller, id, profile, IfMatch::parse(&request.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new((&account.profile).into()))
    }

    async fn list_my_permissions(
        &self,
        request: Request<pb::ListMyPermissionsRequest>,
    ) -> Result<Response<pb::ListMyPermissionsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let mine = self.services.users.my_permissions(&caller).await.map_err(to_status)?;
        Ok(Response::new((&mine).into()))
    }
}
