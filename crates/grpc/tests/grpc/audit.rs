//! `accountd.v1.AuditService` over a real connection.

use accountd_grpc::pb::{ListAuditLogsRequest, UpdateAccountRequest};
use tonic::Code;

use crate::{Credential, create_account, create_user, issue_token, put_member, spawn_server, violated_fields};

#[tokio::test]
async fn the_audit_log_lists_filters_and_refuses_without_audit_read() {
    let server = spawn_server().await;
    let account = create_account(&server, "Logged").await;
    for i in 0..3 {
        let request =
            UpdateAccountRequest { account_id: account.id.clone(), name: Some(format!("N{i}")), ..Default::default() };
        server.accounts().update_account(request).await.expect("update");
    }
    let root = Credential::bearer(&server.root_token);
    let list = |request: ListAuditLogsRequest| {
        let mut client = server.audit_with(root.clone());
        async move { client.list_audit_logs(request).await }
    };
    let all = list(ListAuditLogsRequest { account_id: account.id.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let actions: Vec<&str> = all.events.iter().map(|e| e.action_type.as_str()).collect();
    assert_eq!(actions, ["account.create", "account.update", "account.update", "account.update"]);
    assert!(
        all.events.iter().all(|e| !e.request_id.is_empty()
            && e.actor.as_ref().is_some_and(|a| a.r#type == "platform" && !a.email.is_empty()))
    );
    let newest = list(ListAuditLogsRequest {
        account_id: account.id.clone(),
        direction: "desc".into(),
        page_size: Some(1),
        ..Default::default()
    })
    .await
    .expect("newest")
    .into_inner();
    let after = newest.events[0].after.as_ref().expect("after");
    assert_eq!(after.fields["name"].kind, Some(prost_types::value::Kind::StringValue("N2".into())));
    assert!(!newest.next_cursor.is_empty());
    let bad =
        list(ListAuditLogsRequest { account_id: account.id.clone(), since: "yesterday".into(), ..Default::default() })
            .await
            .expect_err("bad since");
    assert_eq!((bad.code(), violated_fields(&bad)), (Code::InvalidArgument, vec!["since".to_owned()]));
    let billing = create_user(&server, "billing@example.com").await;
    put_member(&server, &account.id, &billing.id, "billing").await;
    let (_, secret) = issue_token(&server, &account.id, &billing.id).await;
    let refused = server
        .audit_with(Credential::bearer(&secret))
        .list_audit_logs(ListAuditLogsRequest { account_id: account.id, ..Default::default() })
        .await
        .expect_err("billing lacks audit:read");
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn subscriptions_follow_the_state_machine_over_grpc() {
    use accountd_grpc::pb::{CreateSubscriptionRequest, ListRatePlansRequest, UpdateSubscriptionRequest};

    let server = spawn_server().await;
    let account = create_account(&server, "Paying").await;
    let mut client = server.subscriptions_with(Credential::bearer(&server.root_token));
    let plans = client.list_rate_plans(ListRatePlansRequest {}).await.expect("plans").into_inner().rate_plans;
    assert!(plans.iter().any(|p| p.id == "pro"));
    let created = client
        .create_subscription(CreateSubscriptionRequest {
            account_id: account.id.clone(),
            rate_plan: "pro".into(),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    assert_eq!((created.state.as_str(), created.price), ("trial", 1900));
    let update = |state: &str| UpdateSubscriptionRequest {
        account_id: account.id.clone(),
        subscription_id: created.id.clone(),
        state: state.into(),
        ..Default::default()
    };
    client.update_subscription(update("cancelled")).await.expect("cancel");
    let refused = client.update_subscription(update("paid")).await.expect_err("paid after cancelled");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let invalid = client.update_subscription(update("zombie")).await.expect_err("unknown state");
    assert_eq!((invalid.code(), violated_fields(&invalid)), (Code::InvalidArgument, vec!["state".to_owned()]));
}
