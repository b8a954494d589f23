//! Conformance cases for subscriptions.

use super::*;

pub async fn subscriptions_follow_their_state_machine_and_round_trip(store: Arc<dyn Store>) {
    use crate::{Frequency, SubscriptionInput, SubscriptionState};
    use crate::{SubscriptionError, SubscriptionService};
    let subscriptions = SubscriptionService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator));
    let account = create(&store, "Subscriber", "standard", None).await;
    let plans = subscriptions.rate_plans(&caller()).await.expect("plans");
    assert!(plans.iter().any(|p| p.id == "pro"), "{plans:?}");
    let fields = |plan: Option<&str>, frequency: Option<&str>, state: Option<&str>| {
        SubscriptionInput {
            rate_plan: plan.map(Into::into),
            frequency: frequency.map(Into::into),
            state: state.map(Into::into),
        }
        .validate()
        .expect("valid")
    };
    let created = subscriptions
        .create(&caller(), account.id, fields(Some("pro"), Some("yearly"), None), None)
        .await
        .expect("create")
        .value;
    assert_eq!(
        (created.state, created.frequency, created.price, created.currency.as_str()),
        (SubscriptionState::Trial, Frequency::Yearly, 22800, "USD")
    );
    assert_eq!(created.current_period_end, Frequency::Yearly.period_end(created.current_period_start));
    assert_eq!(subscriptions.get(&caller(), account.id, created.id).await.expect("get"), created);
    let err = subscriptions
        .create(&caller(), account.id, fields(Some("gold"), None, None), None)
        .await
        .expect_err("unknown plan");
    assert!(matches!(&err, SubscriptionError::Invalid(e) if e.mentions("rate_plan")), "{err:?}");
    let paid = subscriptions
        .update(&caller(), account.id, created.id, fields(None, None, Some("paid")), IfMatch::Any)
        .await
        .expect("pay");
    assert_eq!(paid.state, SubscriptionState::Paid);
    let monthly = subscriptions
        .update(&caller(), account.id, created.id, fields(Some("business"), Some("monthly"), None), IfMatch::Any)
        .await
        .expect("change");
    assert_eq!((monthly.rate_plan.id.as_str(), monthly.price), ("business", 9900));
    let cancelled = subscriptions
        .update(&caller(), account.id, created.id, fields(None, None, Some("cancelled")), IfMatch::Any)
        .await
        .expect("cancel");
    let err = subscriptions
        .update(&caller(), account.id, created.id, fields(None, None, Some("paid")), IfMatch::Any)
        .await
        .expect_err("paid again");
    assert!(matches!(err, SubscriptionError::TransitionNotAllowed), "{err:?}");
    assert_eq!(
        subscriptions.get(&caller(), account.id, created.id).await.expect("get"),
        cancelled,
        "a refusal changes nothing"
    );
    let page = subscriptions.list(&caller(), account.id, PageRequest::first(10)).await.expect("list");
    assert_eq!(page.items, vec![cancelled.clone()]);
    subscriptions.delete(&caller(), account.id, created.id).await.expect("delete");
    assert!(subscriptions.list(&caller(), account.id, PageRequest::first(10)).await.expect("list").items.is_empty());
    let actions: Vec<String> = events(&store, account.id)
        .await
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("subscription"))
        .collect();
    assert_eq!(
        actions,
        [
            "subscription.create",
            "subscription.update",
            "subscription.update",
            "subscription.update",
            "subscription.delete"
        ]
    );
}
