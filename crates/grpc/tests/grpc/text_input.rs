//! Free text with a NUL byte or another control character: every store answers the same
//! INVALID_ARGUMENT naming the field, and nothing is written (issue 16, item 9).

use accountd_grpc::pb;
use tonic::Code;

use crate::{BACKENDS, Credential, create_account, create_user, spawn_server_on, trail, violated_fields};

/// Asserts that `call` was refused with INVALID_ARGUMENT on exactly `field` and that the
/// audit trail of `account` did not grow.
macro_rules! refused {
    ($server:expr, $account:expr, $before:expr, $field:expr, $call:expr) => {{
        let status = $call.await.expect_err($field);
        assert_eq!(status.code(), Code::InvalidArgument, "{}: {status:?}", $field);
        assert_eq!(violated_fields(&status), vec![$field.to_owned()], "{status:?}");
        assert_eq!(trail(&$server.store, $account).await, $before, "{} stored something", $field);
    }};
}

#[tokio::test]
async fn control_characters_in_free_text_answer_invalid_argument_with_the_field_on_both_stores() {
    for backend in BACKENDS {
        let server = spawn_server_on(backend).await;
        let account = create_account(&server, "Acme").await.id;
        let user = create_user(&server, "ada@example.com").await.id;
        let root = Credential::bearer(&server.root_token);
        server
            .domains_with(root.clone())
            .create_domain(pb::CreateDomainRequest { name: "mail.example.com".into(), status: "active".into() })
            .await
            .expect("domain");
        let before = trail(&server.store, &account).await;
        let nul = "bad\u{0}value".to_owned();
        let s = &server;
        let a = account.as_str();
        refused!(
            s,
            a,
            before,
            "name",
            s.accounts().create_account(pb::CreateAccountRequest { name: nul.clone(), ..Default::default() })
        );
        refused!(
            s,
            a,
            before,
            "name",
            s.accounts().update_account(pb::UpdateAccountRequest {
                account_id: account.clone(),
                name: Some("x\u{7}y".into()),
                ..Default::default()
            })
        );
        refused!(
            s,
            a,
            before,
            "first_name",
            s.users().create_user(pb::CreateUserRequest {
                email: "b@example.com".into(),
                first_name: nul.clone(),
                ..Default::default()
            })
        );
        refused!(
            s,
            a,
            before,
            "last_name",
            s.users().update_user(pb::UpdateUserRequest {
                user_id: user.clone(),
                last_name: Some(nul.clone()),
                ..Default::default()
            })
        );
        refused!(
            s,
            a,
            before,
            "first_name",
            s.users().create_account_user(pb::CreateAccountUserRequest {
                account_id: account.clone(),
                email_address: "d@example.com".into(),
                first_name: nul.clone(),
                last_name: "D".into(),
            })
        );
        for (field, profile) in [
            ("business_name", pb::AccountProfile { business_name: nul.clone(), ..Default::default() }),
            ("business_address", pb::AccountProfile { business_address: "1 Main\n\u{0}".into(), ..Default::default() }),
            ("business_phone", pb::AccountProfile { business_phone: "+1\u{0}5".into(), ..Default::default() }),
            (
                "external_metadata",
                pb::AccountProfile { external_metadata: "{\"k\":\"v\u{0}\"}".into(), ..Default::default() },
            ),
        ] {
            refused!(
                s,
                a,
                before,
                field,
                s.accounts().update_account_profile(pb::UpdateAccountProfileRequest {
                    account_id: account.clone(),
                    profile: Some(profile),
                    ..Default::default()
                })
            );
        }
        refused!(
            s,
            a,
            before,
            "rate_plan",
            s.subscriptions_with(root.clone()).create_subscription(pb::CreateSubscriptionRequest {
                account_id: account.clone(),
                rate_plan: "pro\u{0}".into(),
                ..Default::default()
            })
        );
        refused!(
            s,
            a,
            before,
            "name",
            s.tokens().create_token(pb::CreateTokenRequest {
                account_id: account.clone(),
                name: Some(nul.clone()),
                ..Default::default()
            })
        );
        refused!(
            s,
            a,
            before,
            "name",
            s.tokens().create_platform_token(pb::CreatePlatformTokenRequest {
                user_id: user.clone(),
                name: Some(nul.clone()),
                ..Default::default()
            })
        );
        refused!(
            s,
            a,
            before,
            "display_name",
            s.aliases_with(root.clone()).create_alias(pb::CreateAliasRequest {
                account_id: account.clone(),
                local_part: "info".into(),
                domain: "mail.example.com".into(),
                display_name: nul.clone(),
                ..Default::default()
            })
        );
        for field in ["action_type", "resource_type", "resource_id", "actor_id"] {
            let mut request = pb::ListAuditLogsRequest { account_id: account.clone(), ..Default::default() };
            let value = "a\u{0}b".to_owned();
            match field {
                "action_type" => request.action_type = value,
                "resource_type" => request.resource_type = value,
                "resource_id" => request.resource_id = value,
                _ => request.actor_id = value,
            }
            refused!(s, a, before, field, s.audit_with(root.clone()).list_audit_logs(request));
        }
    }
}
