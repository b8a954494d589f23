//! Which calls are sent again after their answer is lost, and that a retried create is
//! applied once.

use accountd_client::{Error, pb};

use crate::spawn_losing;

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_retried_with_its_key_and_applied_once() {
    let server = spawn_losing(Some("/accountd.v1.AccountService/CreateAccount")).await;
    let root = server.root().await;
    let request = pb::CreateAccountRequest { name: "Once Ltd".into(), ..Default::default() };
    let created = root.create_account(request).await.expect("created on the retry");
    assert!(created.replayed, "the retry carried the first attempt's key: the server replayed its answer");
    assert_eq!(server.reached.load(std::sync::atomic::Ordering::SeqCst), 2, "two attempts");
    let accounts = root.list_accounts(pb::ListAccountsRequest::default()).await.expect("list").accounts;
    let named: Vec<_> = accounts.iter().filter(|a| a.name == "Once Ltd").collect();
    assert_eq!(named.len(), 1, "applied once: {accounts:?}");
    assert_eq!(named[0].id, created.value.id);
}

#[tokio::test]
async fn a_read_whose_answer_is_lost_is_retried() {
    let server = spawn_losing(Some("/accountd.v1.UserService/GetMe")).await;
    let me = server.root().await.me().await.expect("answered on the retry");
    assert!(me.user.is_some());
    assert_eq!(server.reached.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_update_whose_answer_is_lost_is_not_retried() {
    let server = spawn_losing(Some("/accountd.v1.AccountService/UpdateAccount")).await;
    let root = server.root().await;
    let account = root
        .create_account(pb::CreateAccountRequest { name: "Acme".into(), ..Default::default() })
        .await
        .expect("account")
        .value;
    let update =
        pb::UpdateAccountRequest { account_id: account.id.clone(), name: Some("Acme 2".into()), ..Default::default() };
    let lost = root.update_account(update).await;
    assert!(matches!(lost, Err(Error::Unavailable { .. })), "{lost:?}");
    assert_eq!(server.reached.load(std::sync::atomic::Ordering::SeqCst), 1, "sent once");
    assert_eq!(root.get_account(&account.id).await.expect("get").name, "Acme 2", "the server applied it");
}

#[tokio::test]
async fn a_refused_call_is_not_retried_and_keeps_its_code() {
    let server = spawn_losing(Some("/accountd.v1.AccountService/GetAccount")).await;
    let root = server.root().await;
    let missing = root.get_account(&uuid_like()).await;
    // The first answer is lost (UNAVAILABLE, retried); the second is NOT_FOUND, not retried.
    assert!(matches!(missing, Err(Error::NotFound { .. })), "{missing:?}");
    assert_eq!(server.reached.load(std::sync::atomic::Ordering::SeqCst), 2);
    let invalid = root.create_account(pb::CreateAccountRequest::default()).await;
    let Err(Error::Invalid { fields, .. }) = invalid else { panic!("{invalid:?}") };
    assert!(fields.iter().any(|f| f.field == "name"), "{fields:?}");
}

fn uuid_like() -> String {
    "01900000-0000-7000-8000-000000000000".into()
}
