//! `accountd.v1.AccountService` over a real connection.

use accountd_grpc::pb::{
    AccountStatus, AccountType, CreateAccountRequest, DeleteAccountRequest, GetAccountRequest, ListAccountsRequest,
    UpdateAccountRequest,
};
use tonic::Code;

use crate::{spawn_server, violated_fields};

fn create(name: &str) -> CreateAccountRequest {
    CreateAccountRequest { name: name.into(), ..Default::default() }
}

#[tokio::test]
async fn an_account_is_created_listed_read_updated_and_deleted() {
    let server = spawn_server().await;
    let mut client = server.accounts();
    let created = client
        .create_account(CreateAccountRequest {
            name: " Acme ".into(),
            r#type: AccountType::Agency.into(),
            abuse_contact_email: Some("abuse@acme.test".into()),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(created.name, "Acme");
    assert_eq!(created.r#type(), AccountType::Agency);
    assert_eq!(created.status(), AccountStatus::Unverified);
    assert_eq!(created.etag, "\"1\"");
    assert_eq!(created.settings.as_ref().map(|s| s.abuse_contact_email.as_str()), Some("abuse@acme.test"));

    let list = client.list_accounts(ListAccountsRequest::default()).await.expect("list").into_inner();
    assert_eq!(list.accounts, vec![created.clone()]);
    assert_eq!(list.next_page_token, "");

    let read =
        client.get_account(GetAccountRequest { account_id: created.id.clone() }).await.expect("get").into_inner();
    assert_eq!(read.account.as_ref(), Some(&created));

    let updated = client
        .update_account(UpdateAccountRequest {
            account_id: created.id.clone(),
            name: Some("Acme Ltd".into()),
            status: AccountStatus::Verified.into(),
            abuse_contact_email: Some(String::new()),
            etag: created.etag.clone(),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .account
        .expect("account");
    assert_eq!((updated.name.as_str(), updated.status(), updated.version), ("Acme Ltd", AccountStatus::Verified, 2));
    assert_eq!(updated.settings.as_ref().map(|s| s.abuse_contact_email.as_str()), Some(""));

    let stale = client
        .delete_account(DeleteAccountRequest { account_id: created.id.clone(), etag: created.etag.clone() })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::FailedPrecondition);
    client
        .delete_account(DeleteAccountRequest { account_id: created.id.clone(), etag: updated.etag })
        .await
        .expect("delete");
    let gone = client.get_account(GetAccountRequest { account_id: created.id }).await.expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let server = spawn_server().await;
    let mut client = server.accounts();
    let cases = [
        (create(""), "name"),
        (create(&"x".repeat(101)), "name"),
        (CreateAccountRequest { r#type: 99, ..create("A") }, "type"),
        (CreateAccountRequest { parent_id: "nope".into(), ..create("A") }, "parent_id"),
        (
            CreateAccountRequest { abuse_contact_email: Some("nope".into()), ..create("A") },
            "settings.abuse_contact_email",
        ),
    ];
    for (request, field) in cases {
        let status = client.create_account(request.clone()).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(violated_fields(&status), [field], "{request:?}");
    }
    for (page_size, page_token, field) in
        [(Some(0), "", "page_size"), (Some(1001), "", "page_size"), (None, "garbage", "page_token")]
    {
        let request = ListAccountsRequest { page_size, page_token: page_token.into(), ..Default::default() };
        let status = client.list_accounts(request).await.expect_err("invalid paging");
        assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec![field.to_owned()]));
    }
    let status = client.get_account(GetAccountRequest { account_id: String::new() }).await.expect_err("empty id");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["account_id".to_owned()]));
}

#[tokio::test]
async fn a_child_under_a_non_container_is_a_failed_precondition() {
    let server = spawn_server().await;
    let mut client = server.accounts();
    let plain = client.create_account(create("Plain")).await.expect("create").into_inner().account.expect("account");
    let status = client
        .create_account(CreateAccountRequest { parent_id: plain.id.clone(), ..create("Child") })
        .await
        .expect_err("non-container parent");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let children = client
        .list_accounts(ListAccountsRequest { parent_id: plain.id, ..Default::default() })
        .await
        .expect("children")
        .into_inner();
    assert!(children.accounts.is_empty(), "no child was created: {children:?}");
}

#[tokio::test]
async fn a_hundred_and_twenty_accounts_page_as_fifty_fifty_and_twenty() {
    let server = spawn_server().await;
    let mut client = server.accounts();
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(
            client.create_account(create(&format!("A{i}"))).await.expect("create").into_inner().account.expect("a").id,
        );
    }
    let (mut sizes, mut seen, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = client
            .list_accounts(ListAccountsRequest { page_size: Some(50), page_token: token, ..Default::default() })
            .await
            .expect("list")
            .into_inner();
        sizes.push(page.accounts.len());
        seen.extend(page.accounts.into_iter().map(|a| a.id));
        token = page.next_page_token;
        if token.is_empty() || sizes.len() > 5 {
            break;
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen, created);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let server = spawn_server().await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in [
        "",
        "accountd.v1.AccountService",
        "accountd.v1.UserService",
        "accountd.v1.MemberService",
        "accountd.v1.TokenService",
    ] {
        let reply = health.check(HealthCheckRequest { service: service.into() }).await.expect("health").into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "{service:?}");
    }
    // What `grpcurl -plaintext HOST list` asks.
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut reflection = ServerReflectionClient::new(server.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies =
        reflection.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection").into_inner();
    let reply = replies.message().await.expect("reply").expect("one reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("not a service list")
    };
    let services: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "accountd.v1.AccountService",
        "accountd.v1.UserService",
        "accountd.v1.MemberService",
        "accountd.v1.TokenService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(services.contains(&expected.to_owned()), "{expected} missing from {services:?}");
    }
}

#[tokio::test]
async fn an_idempotency_key_in_metadata_makes_a_retried_create_return_the_first_account() {
    let server = spawn_server().await;
    let mut client = server.accounts();
    let request = |key: &str| {
        let mut request = tonic::Request::new(create("Once"));
        request.metadata_mut().insert("idempotency-key", key.parse().expect("ascii"));
        request
    };
    let first = client.create_account(request("grpc-1")).await.expect("first");
    assert!(first.metadata().get("idempotent-replayed").is_none());
    let again = client.create_account(request("grpc-1")).await.expect("replay");
    assert_eq!(again.metadata().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(again.into_inner().account.map(|a| a.id), first.into_inner().account.map(|a| a.id));
    let status = client.create_account(request("has space")).await.expect_err("bad key");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["idempotency_key".to_owned()]));
}

#[tokio::test]
async fn an_account_moves_with_its_subtree_and_children_are_listed() {
    use accountd_grpc::pb::MoveAccountRequest;

    let server = spawn_server().await;
    let mut client = server.accounts();
    let make = |name: &str, kind: AccountType, parent: &str| CreateAccountRequest {
        name: name.into(),
        r#type: kind.into(),
        parent_id: parent.into(),
        ..Default::default()
    };
    let first = client
        .create_account(make("First", AccountType::Agency, ""))
        .await
        .expect("c")
        .into_inner()
        .account
        .expect("a");
    let second = client
        .create_account(make("Second", AccountType::Agency, ""))
        .await
        .expect("c")
        .into_inner()
        .account
        .expect("a");
    let manager = client
        .create_account(make("Manager", AccountType::BusinessManager, &first.id))
        .await
        .expect("c")
        .into_inner()
        .account
        .expect("a");
    let moved = client
        .move_account(MoveAccountRequest {
            account_id: manager.id.clone(),
            parent_id: second.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("move")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(moved.hierarchy, vec![second.id.clone()]);
    let children = client
        .list_accounts(ListAccountsRequest { parent_id: second.id.clone(), ..Default::default() })
        .await
        .expect("children")
        .into_inner();
    assert_eq!(children.accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>(), vec![manager.id.clone()]);
    let cycle = client
        .move_account(MoveAccountRequest {
            account_id: second.id.clone(),
            parent_id: manager.id.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("cycle");
    assert_eq!(cycle.code(), Code::FailedPrecondition);
    let second = client.get_account(GetAccountRequest { account_id: second.id }).await.expect("get").into_inner();
    assert_eq!(second.account.expect("account").hierarchy, Vec::<String>::new(), "nothing moved");
}

#[tokio::test]
async fn a_profile_is_replaced_and_validated() {
    use accountd_grpc::pb::{AccountProfile, GetAccountProfileRequest, UpdateAccountProfileRequest};

    let server = spawn_server().await;
    let mut client = server.accounts();
    let account = client.create_account(create("Profiled")).await.expect("create").into_inner().account.expect("a");
    let profile =
        AccountProfile { business_name: "Acme Ltd".into(), business_phone: "+1 555 0100".into(), ..Default::default() };
    let request = UpdateAccountProfileRequest {
        account_id: account.id.clone(),
        profile: Some(profile.clone()),
        etag: account.etag,
    };
    assert_eq!(client.update_account_profile(request).await.expect("update").into_inner(), profile);
    let read =
        client.get_account_profile(GetAccountProfileRequest { account_id: account.id.clone() }).await.expect("get");
    assert_eq!(read.into_inner(), profile);
    let bad = AccountProfile { business_email: "nope".into(), ..Default::default() };
    let status = client
        .update_account_profile(UpdateAccountProfileRequest {
            account_id: account.id,
            profile: Some(bad),
            etag: String::new(),
        })
        .await
        .expect_err("invalid");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["business_email".to_owned()]));
}

#[tokio::test]
async fn an_id_that_is_not_well_formed_names_nothing_and_answers_not_found() {
    let server = spawn_server().await;
    let ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let status =
        server.accounts().get_account(GetAccountRequest { account_id: ulid.into() }).await.expect_err("bad id");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = server
        .accounts()
        .delete_account(DeleteAccountRequest { account_id: ulid.into(), ..Default::default() })
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // An empty one is a missing argument, named.
    let status =
        server.accounts().get_account(GetAccountRequest { account_id: String::new() }).await.expect_err("none");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["account_id".to_owned()]));
}
