//! A database that cannot be reached answers UNAVAILABLE with `RetryInfo` at once, and
//! gRPC health turns NOT_SERVING, as REST answers 503 and `/readyz` does.

use std::time::{Duration, Instant};

use accountd_domain::{AccountId, Principal, RequestInfo};
use accountd_grpc::pb::GetAccountRequest;
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use accountd_grpc::status::to_status;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

async fn health(channel: &Channel, service: &str) -> ServingStatus {
    let reply = HealthClient::new(channel.clone())
        .check(HealthCheckRequest { service: service.to_owned() })
        .await
        .expect("health check");
    reply.into_inner().status()
}

#[tokio::test]
async fn with_the_database_gone_rpcs_are_unavailable_and_health_is_not_serving() {
    // The concrete store stays here, so the test can close its pool under the server.
    let (store, fixture) = accountd_testkit::closable().await;
    let server = crate::serve(fixture).await;
    let (channel, services, token) = (server.channel.clone(), server.services.clone(), server.root_token.clone());
    let account_service = "accountd.v1.AccountService";
    assert_eq!(health(&channel, "").await, ServingStatus::Serving);
    assert_eq!(health(&channel, account_service).await, ServingStatus::Serving);

    store.pool().close().await;
    let sent = Instant::now();
    let mut request = tonic::Request::new(GetAccountRequest { account_id: uuid::Uuid::now_v7().to_string() });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("metadata"));
    let status = AccountServiceClient::new(channel.clone()).get_account(request).await.expect_err("database gone");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(status.get_details_retry_info().and_then(|r| r.retry_delay), Some(Duration::from_secs(2)));
    assert!(sent.elapsed() < Duration::from_secs(1), "answered after {:?}", sent.elapsed());

    // The operation itself (past authentication) maps the same way.
    let error = services
        .accounts
        .get(&Principal::system(RequestInfo::default()), AccountId::from_uuid(uuid::Uuid::now_v7()))
        .await
        .expect_err("the store is closed");
    assert_eq!(to_status(error).code(), Code::Unavailable);

    // Health follows readiness within its check interval.
    let mut status = health(&channel, "").await;
    for _ in 0..30 {
        if status == ServingStatus::NotServing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = health(&channel, "").await;
    }
    assert_eq!(status, ServingStatus::NotServing);
    assert_eq!(health(&channel, account_service).await, ServingStatus::NotServing);
}
