//! `accountd.v1.DomainService` and `accountd.v1.AliasService`: managed domains, email aliases
//! and mailbox authentication.

use accountd_domain::{
    Alias, AliasPatchInput, AliasWithPassword, Domain, DomainRef, DomainStatus, IfMatch, MailboxPassword,
    NewAliasInput, NewDomainInput, PASSWORD_NOTE, REPLAY_PASSWORD_NOTE, Services, UserId, WithSecret,
};
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use crate::caller::{caller, created as created_response, idempotency_key};
use crate::convert::{argument_id, invalid, non_empty, page_request, resource_id, timestamp};
use crate::pb;
use crate::status::to_status;

/// The tonic service over [`accountd_domain::DomainService`].
#[derive(Debug, Clone)]
pub struct DomainsApi {
    services: Services,
}

impl DomainsApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

/// The tonic service over [`accountd_domain::AliasService`].
#[derive(Debug, Clone)]
pub struct AliasesApi {
    services: Services,
}

impl AliasesApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

impl From<&Domain> for pb::Domain {
    fn from(d: &Domain) -> Self {
        Self {
            id: d.id.to_string(),
            name: d.name.to_string(),
            status: d.status.as_str().to_owned(),
            version: d.version.get(),
            etag: d.version.etag(),
            created_at: Some(timestamp(d.created_at)),
            updated_at: Some(timestamp(d.updated_at)),
        }
    }
}

impl From<&Alias> for pb::Alias {
    fn from(a: &Alias) -> Self {
        Self {
            id: a.id.to_string(),
            account_id: a.account_id.to_string(),
            user_id: a.user_id.map(|u| u.to_string()).unwrap_or_default(),
            domain_id: a.domain_id.to_string(),
            domain: a.domain.to_string(),
            local_part: a.local_part.as_str().to_owned(),
            address: a.address(),
            display_name: a.display_name.as_ref().map(|d| d.as_str().to_owned()).unwrap_or_default(),
            status: a.status.as_str().to_owned(),
            is_primary: a.is_primary,
            is_default: a.is_default,
            has_password: a.has_password(),
            password_changed_at: a.password_changed_at.map(timestamp),
            version: a.version.get(),
            etag: a.version.etag(),
            created_at: Some(timestamp(a.created_at)),
            updated_at: Some(timestamp(a.updated_at)),
        }
    }
}

impl From<&AliasWithPassword> for pb::AliasWithPassword {
    fn from(a: &AliasWithPassword) -> Self {
        Self {
            alias: Some((&a.alias).into()),
            password: a.password.expose().to_owned(),
            note: PASSWORD_NOTE.to_owned(),
            secret_omitted: false,
        }
    }
}

/// A created alias; on an idempotent replay without its password, and saying so.
impl From<&WithSecret<Alias, MailboxPassword>> for pb::AliasWithPassword {
    fn from(a: &WithSecret<Alias, MailboxPassword>) -> Self {
        match &a.secret {
            Some(password) => (&AliasWithPassword { alias: a.resource.clone(), password: password.clone() }).into(),
            None => Self {
                alias: Some((&a.resource).into()),
                password: String::new(),
                note: REPLAY_PASSWORD_NOTE.to_owned(),
                secret_omitted: true,
            },
        }
    }
}

fn domain_ref(raw: &str) -> Result<DomainRef, Status> {
    DomainRef::parse(raw, "domain").map_err(invalid)
}

fn optional_domain(raw: String) -> Result<Option<DomainRef>, Status> {
    non_empty(raw).map(|d| domain_ref(&d)).transpose()
}

fn user_filter(raw: String) -> Result<Option<UserId>, Status> {
    non_empty(raw).map(|u| argument_id(&u, "user_id")).transpose()
}

fn password(raw: String) -> Option<SecretString> {
    (!raw.is_empty()).then(|| SecretString::from(raw))
}

fn aliases_response(page: accountd_domain::Page<Alias>) -> pb::ListAliasesResponse {
    pb::ListAliasesResponse {
        next_page_token: page.next_page_token(),
        aliases: page.items.iter().map(pb::Alias::from).collect(),
    }
}

#[tonic::async_trait]
impl pb::domain_service_server::DomainService for DomainsApi {
    async fn list_domains(
        &self,
        request: Request<pb::ListDomainsRequest>,
    ) -> Result<Response<pb::ListDomainsResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let found =
            self.services.domains.list(&caller, page_request(r.page_size, &r.page_token)?).await.map_err(to_status)?;
        Ok(Response::new(pb::ListDomainsResponse {
            next_page_token: found.next_page_token(),
            domains: found.items.iter().map(pb::Domain::from).collect(),
        }))
    }

    async fn get_domain(&self, request: Request<pb::GetDomainRequest>) -> Result<Response<pb::Domain>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let domain = domain_ref(&request.get_ref().domain)?;
        let found = self.services.domains.get(&caller, &domain).await.map_err(to_status)?;
        Ok(Response::new((&found).into()))
    }

    async fn create_domain(&self, request: Request<pb::CreateDomainRequest>) -> Result<Response<pb::Domain>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let r = request.into_inner();
        let command =
            NewDomainInput { name: Some(r.name), status: non_empty(r.status) }.validate().map_err(to_status)?;
        let created = self.services.domains.create(&caller, command, key).await.map_err(to_status)?;
        Ok(created_response((&created.value).into(), created.replayed))
    }

    async fn update_domain(&self, request: Request<pb::UpdateDomainRequest>) -> Result<Response<pb::Domain>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let domain = domain_ref(&r.domain)?;
        let status = DomainStatus::parse(&r.status).map_err(invalid)?;
        let updated = self
            .services
            .domains
            .update_status(&caller, &domain, status, IfMatch::parse(&r.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new((&updated).into()))
    }

    async fn delete_domain(
        &self,
        request: Request<pb::DeleteDomainRequest>,
    ) -> Result<Response<pb::DeleteDomainResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let domain = domain_ref(&r.domain)?;
        self.services.domains.delete(&caller, &domain, IfMatch::parse(&r.etag)).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteDomainResponse {}))
    }
}

#[tonic::async_trait]
impl pb::alias_service_server::AliasService for AliasesApi {
    async fn list_aliases(
        &self,
        request: Request<pb::ListAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (domain, user, page) =
            (optional_domain(r.domain)?, user_filter(r.user_id)?, page_request(r.page_size, &r.page_token)?);
        let (_, found) = self.services.aliases.list(&caller, domain.as_ref(), user, page).await.map_err(to_status)?;
        Ok(Response::new(aliases_response(found)))
    }

    async fn list_domain_aliases(
        &self,
        request: Request<pb::ListDomainAliasesRequest>,
    ) -> Result<Response<pb::ListDomainAliasesResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (domain, user, page) =
            (domain_ref(&r.domain)?, user_filter(r.user_id)?, page_request(r.page_size, &r.page_token)?);
        let (domain, found) =
            self.services.aliases.list(&caller, Some(&domain), user, page).await.map_err(to_status)?;
        Ok(Response::new(pb::ListDomainAliasesResponse {
            domain: domain.as_ref().map(pb::Domain::from),
            next_page_token: found.next_page_token(),
            aliases: found.items.iter().map(pb::Alias::from).collect(),
        }))
    }

    async fn list_account_aliases(
        &self,
        request: Request<pb::ListAccountAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let account = resource_id(&r.account_id, "account_id")?;
        let (domain, user, page) =
            (optional_domain(r.domain)?, user_filter(r.user_id)?, page_request(r.page_size, &r.page_token)?);
        let found = self
            .services
            .aliases
            .list_for_account(&caller, account, domain.as_ref(), user, page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(aliases_response(found)))
    }

    async fn create_alias(
        &self,
        request: Request<pb::CreateAliasRequest>,
    ) -> Result<Response<pb::AliasWithPassword>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let key = idempotency_key(&request)?;
        let r = request.into_inner();
        let account = resource_id(&r.account_id, "account_id")?;
        let command = NewAliasInput {
            local_part: Some(r.local_part),
            domain: non_empty(r.domain),
            domain_id: non_empty(r.domain_id),
            display_name: non_empty(r.display_name),
            user_id: non_empty(r.user_id),
            password: password(r.password),
        }
        .validate()
        .map_err(to_status)?;
        let created = self.services.aliases.create(&caller, account, command, key).await.map_err(to_status)?;
        Ok(created_response((&created.value).into(), created.replayed))
    }

    async fn get_alias(&self, request: Request<pb::GetAliasRequest>) -> Result<Response<pb::Alias>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) = (resource_id(&r.account_id, "account_id")?, resource_id(&r.alias_id, "alias_id")?);
        let found = self.services.aliases.get(&caller, account, id).await.map_err(to_status)?;
        Ok(Response::new((&found).into()))
    }

    async fn update_alias(&self, request: Request<pb::UpdateAliasRequest>) -> Result<Response<pb::Alias>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) = (resource_id(&r.account_id, "account_id")?, resource_id(&r.alias_id, "alias_id")?);
        let patch = AliasPatchInput { display_name: r.display_name, status: non_empty(r.status) }
            .validate()
            .map_err(to_status)?;
        let updated = self
            .services
            .aliases
            .update(&caller, account, id, patch, IfMatch::parse(&r.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new((&updated).into()))
    }

    async fn delete_alias(
        &self,
        request: Request<pb::DeleteAliasRequest>,
    ) -> Result<Response<pb::DeleteAliasResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) = (resource_id(&r.account_id, "account_id")?, resource_id(&r.alias_id, "alias_id")?);
        self.services.aliases.delete(&caller, account, id, IfMatch::parse(&r.etag)).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteAliasResponse {}))
    }

    async fn reset_alias_password(
        &self,
        request: Request<pb::ResetAliasPasswordRequest>,
    ) -> Result<Response<pb::AliasWithPassword>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let (account, id) = (resource_id(&r.account_id, "account_id")?, resource_id(&r.alias_id, "alias_id")?);
        let new_password = password(r.password);
        let reset = self
            .services
            .aliases
            .reset_password(&caller, account, id, new_password, IfMatch::parse(&r.etag))
            .await
            .map_err(to_status)?;
        Ok(Response::new((&reset).into()))
    }

    async fn authenticate_mailbox(
        &self,
        request: Request<pb::AuthenticateMailboxRequest>,
    ) -> Result<Response<pb::AuthenticateMailboxResponse>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let login = self
            .services
            .aliases
            .authenticate_mailbox(&caller, &r.address, SecretString::from(r.password))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AuthenticateMailboxResponse {
            ok: true,
            alias_id: login.alias_id.to_string(),
            account_id: login.account_id.to_string(),
            address: login.address,
        }))
    }
}
