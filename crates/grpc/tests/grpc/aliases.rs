//! DomainService and AliasService: the seed 001 operations, the primary alias of
//! CreateAccount, mailbox authentication and their status codes.

use accountd_grpc::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::{
    Credential, TestServer, create_account, create_user, issue_token, put_member, spawn_server, violated_fields,
};

const NOTE: &str = "Save this password now. It will not be shown again.";

fn root(server: &TestServer) -> Credential {
    Credential::bearer(&server.root_token)
}

async fn domain(server: &TestServer, name: &str, status: &str) -> pb::Domain {
    let request = pb::CreateDomainRequest { name: name.into(), status: status.into() };
    server.domains_with(root(server)).create_domain(request).await.expect("create domain").into_inner()
}

fn new_alias(account: &str, local_part: &str, domain: &str) -> pb::CreateAliasRequest {
    pb::CreateAliasRequest {
        account_id: account.into(),
        local_part: local_part.into(),
        domain: domain.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn domains_are_created_read_updated_and_deleted_by_root_only() {
    let server = spawn_server().await;
    let created = domain(&server, "Mail.Example.com", "").await;
    assert_eq!(
        (created.name.as_str(), created.status.as_str(), created.etag.as_str()),
        ("mail.example.com", "pending", "\"1\"")
    );
    let mut domains = server.domains_with(root(&server));
    let dup = domains
        .create_domain(pb::CreateDomainRequest { name: "MAIL.example.com".into(), status: String::new() })
        .await
        .expect_err("taken");
    assert_eq!(dup.code(), Code::AlreadyExists);
    let bad = domains
        .create_domain(pb::CreateDomainRequest { name: "localhost".into(), status: "live".into() })
        .await
        .expect_err("invalid");
    assert_eq!(
        (bad.code(), violated_fields(&bad)),
        (Code::InvalidArgument, vec!["name".to_owned(), "status".to_owned()])
    );
    let got =
        domains.get_domain(pb::GetDomainRequest { domain: "mail.example.com".into() }).await.expect("get").into_inner();
    assert_eq!(got.id, created.id);
    let stale = pb::UpdateDomainRequest { domain: created.id.clone(), status: "active".into(), etag: "\"9\"".into() };
    assert_eq!(domains.update_domain(stale).await.expect_err("stale").code(), Code::FailedPrecondition);
    let update = pb::UpdateDomainRequest { domain: created.id.clone(), status: "active".into(), etag: created.etag };
    assert_eq!(domains.update_domain(update).await.expect("update").into_inner().status, "active");
    let listed = domains.list_domains(pb::ListDomainsRequest::default()).await.expect("list").into_inner();
    assert_eq!(listed.domains.len(), 1);
    let account = create_account(&server, "Acme").await;
    let user = create_user(&server, "admin@example.com").await;
    put_member(&server, &account.id, &user.id, "administrator").await;
    let (_, secret) = issue_token(&server, &account.id, &user.id).await;
    let mut tenant = server.domains_with(Credential::bearer(&secret));
    let denied = tenant
        .create_domain(pb::CreateDomainRequest { name: "evil.example".into(), status: String::new() })
        .await
        .expect_err("tenant");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        tenant.list_domains(pb::ListDomainsRequest::default()).await.expect("read").into_inner().domains.len(),
        1
    );
    let delete = pb::DeleteDomainRequest { domain: "mail.example.com".into(), etag: String::new() };
    domains.delete_domain(delete).await.expect("delete");
    let gone = domains.get_domain(pb::GetDomainRequest { domain: created.id }).await.expect_err("gone");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn every_alias_operation_of_seed_001_answers_over_grpc() {
    let server = spawn_server().await;
    let account = create_account(&server, "Acme").await;
    let mut aliases = server.aliases_with(root(&server));
    domain(&server, "pending.example.com", "pending").await;
    let refused = aliases.create_alias(new_alias(&account.id, "a", "pending.example.com")).await.expect_err("pending");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("active"), "{}", refused.message());
    let d = domain(&server, "customer.com", "active").await;
    let created =
        aliases.create_alias(new_alias(&account.id, "Billing", "customer.com")).await.expect("create").into_inner();
    assert_eq!(created.note, NOTE);
    assert!(created.password.len() >= 20);
    let alias = created.alias.expect("alias");
    assert_eq!((alias.address.as_str(), alias.domain_id.as_str()), ("billing@customer.com", d.id.as_str()));
    let dup = aliases.create_alias(new_alias(&account.id, "BILLING", "Customer.com")).await.expect_err("dup");
    assert_eq!(dup.code(), Code::AlreadyExists);
    let invalid = aliases.create_alias(new_alias(&account.id, "bad..part", "customer.com")).await.expect_err("bad");
    assert_eq!((invalid.code(), violated_fields(&invalid)), (Code::InvalidArgument, vec!["local_part".to_owned()]));
    let get = pb::GetAliasRequest { account_id: account.id.clone(), alias_id: alias.id.clone() };
    let read = aliases.get_alias(get).await.expect("get").into_inner();
    assert_eq!(read.address, alias.address);
    let by_domain = pb::ListDomainAliasesRequest { domain: "customer.com".into(), ..Default::default() };
    let listed = aliases.list_domain_aliases(by_domain).await.expect("list").into_inner();
    assert_eq!((listed.domain.map(|d| d.name), listed.aliases.len()), (Some("customer.com".to_owned()), 1));
    let all = aliases.list_aliases(pb::ListAliasesRequest::default()).await.expect("list all").into_inner();
    assert_eq!(all.aliases.len(), 1);
    let of_account = pb::ListAccountAliasesRequest { account_id: account.id.clone(), ..Default::default() };
    assert_eq!(aliases.list_account_aliases(of_account).await.expect("list").into_inner().aliases.len(), 1);
    let update = pb::UpdateAliasRequest {
        account_id: account.id.clone(),
        alias_id: alias.id.clone(),
        display_name: Some("Billing desk".into()),
        status: String::new(),
        etag: alias.etag.clone(),
    };
    let updated = aliases.update_alias(update).await.expect("update").into_inner();
    assert_eq!((updated.display_name.as_str(), updated.version), ("Billing desk", 2));
    let login = |password: String| pb::AuthenticateMailboxRequest { address: "billing@customer.com".into(), password };
    let ok = aliases.authenticate_mailbox(login(created.password.clone())).await.expect("login").into_inner();
    assert_eq!((ok.ok, ok.alias_id.as_str()), (true, alias.id.as_str()));
    let reset = pb::ResetAliasPasswordRequest {
        account_id: account.id.clone(),
        alias_id: alias.id.clone(),
        ..Default::default()
    };
    let reset = aliases.reset_alias_password(reset).await.expect("reset").into_inner();
    assert_eq!(reset.note, NOTE);
    let old = aliases.authenticate_mailbox(login(created.password)).await.expect_err("old password");
    assert_eq!(old.code(), Code::Unauthenticated);
    aliases.authenticate_mailbox(login(reset.password)).await.expect("new password");
    let delete =
        pb::DeleteAliasRequest { account_id: account.id.clone(), alias_id: alias.id.clone(), etag: String::new() };
    aliases.delete_alias(delete).await.expect("delete");
    let get = pb::GetAliasRequest { account_id: account.id, alias_id: alias.id };
    assert_eq!(aliases.get_alias(get).await.expect_err("gone").code(), Code::NotFound);
}

#[tokio::test]
async fn mailbox_auth_is_throttled_with_retry_info_and_refused_to_tenants() {
    let server = spawn_server().await;
    let account = create_account(&server, "Acme").await;
    domain(&server, "customer.com", "active").await;
    let mut aliases = server.aliases_with(root(&server));
    let mut request = new_alias(&account.id, "info", "customer.com");
    request.password = "Correct-Horse-9".into();
    aliases.create_alias(request).await.expect("create");
    let login = |password: &str| pb::AuthenticateMailboxRequest {
        address: "info@customer.com".into(),
        password: password.into(),
    };
    for _ in 0..5 {
        let wrong = aliases.authenticate_mailbox(login("Wrong-Horse-9")).await.expect_err("wrong");
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    let locked = aliases.authenticate_mailbox(login("Correct-Horse-9")).await.expect_err("locked");
    assert_eq!(locked.code(), Code::ResourceExhausted);
    let retry = locked.get_details_retry_info().and_then(|r| r.retry_delay).expect("retry info");
    assert!(retry.as_secs() >= 1, "{retry:?}");
    let empty = aliases.authenticate_mailbox(login("")).await.expect_err("no password");
    assert_eq!((empty.code(), violated_fields(&empty)), (Code::InvalidArgument, vec!["password".to_owned()]));
    let user = create_user(&server, "admin@example.com").await;
    put_member(&server, &account.id, &user.id, "administrator").await;
    let (_, secret) = issue_token(&server, &account.id, &user.id).await;
    let denied =
        server.aliases_with(Credential::bearer(&secret)).authenticate_mailbox(login("x")).await.expect_err("tenant");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn create_account_makes_the_primary_alias_in_the_same_transaction() {
    let server = spawn_server().await;
    let d = domain(&server, "customer.com", "active").await;
    let pending = domain(&server, "pending.example.com", "pending").await;
    let mut accounts = server.accounts();
    let request = |name: &str, local: &str, domain: &str| pb::CreateAccountRequest {
        name: name.into(),
        local_part: local.into(),
        domain_id: domain.into(),
        ..Default::default()
    };
    let created = accounts.create_account(request("Acme", "Hello", &d.id)).await.expect("create").into_inner();
    let primary = created.primary_alias.expect("primary alias");
    assert_eq!((primary.address.as_str(), primary.is_primary), ("hello@customer.com", true));
    let taken = accounts.create_account(request("Copy", "hello", &d.id)).await.expect_err("taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    let inactive = accounts.create_account(request("Pending", "x", &pending.id)).await.expect_err("pending");
    assert_eq!(inactive.code(), Code::FailedPrecondition);
    let invalid = accounts.create_account(request("Bad", "bad..part", &d.id)).await.expect_err("invalid");
    assert_eq!((invalid.code(), violated_fields(&invalid)), (Code::InvalidArgument, vec!["local_part".to_owned()]));
    let listed = accounts.list_accounts(pb::ListAccountsRequest::default()).await.expect("list").into_inner();
    assert_eq!(listed.accounts.len(), 1, "refused creations left no account");
}
