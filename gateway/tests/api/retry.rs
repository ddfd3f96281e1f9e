use reqwest::Client;
use serde_json::json;
use shared::{
    auth::Role,
    testing::{TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted};

async fn gateway_before(orders: &Scripted, extra: &[(&str, &str)]) -> (String, String) {
    let issuer = TestIssuer::start().await;
    let mut builder = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .arg("--cache", "false");
    for (flag, value) in extra {
        builder = builder.arg(flag, value);
    }
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    (builder.spawn().await, token)
}

async fn get_order(gateway: &str, token: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{gateway}/orders/o1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn a_get_that_fails_twice_then_succeeds_answers_200_after_three_calls() {
    let orders = Scripted::start().await;
    let (gateway, token) = gateway_before(&orders, &[]).await;
    orders.fail_next(2, 503);
    let response = get_order(&gateway, &token).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-upstream-call"], "3");
    assert_eq!(orders.calls(), 3);
}

#[tokio::test]
async fn a_post_without_an_idempotency_key_is_sent_once_and_with_one_is_retried() {
    let orders = Scripted::start().await;
    let (gateway, token) = gateway_before(&orders, &[]).await;
    let client = Client::new();
    orders.fail_next(2, 502);
    let once = client
        .post(format!("{gateway}/orders"))
        .bearer_auth(&token)
        .json(&json!({"restaurant_id": "r1"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(once.status().as_u16(), 502, "the backend's own answer");
    assert_eq!(orders.calls(), 1);

    orders.fail_next(2, 502);
    let keyed = client
        .post(format!("{gateway}/orders"))
        .bearer_auth(&token)
        .header("idempotency-key", "order-1")
        .json(&json!({"restaurant_id": "r1"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(keyed.status().as_u16(), 200);
    assert_eq!(orders.calls(), 4, "one plus three");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_cap_is_not_waited_for() {
    let orders = Scripted::start().await;
    let (gateway, token) = gateway_before(&orders, &[]).await;
    orders.fail_next(1, 503);
    orders.retry_after("30");
    let response = get_order(&gateway, &token).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(orders.calls(), 1);
}

#[tokio::test]
async fn the_retry_budget_caps_retries_when_the_backend_keeps_failing() {
    let orders = Scripted::start().await;
    let (gateway, token) = gateway_before(
        &orders,
        &[("--retry-budget", "0"), ("--retry-budget-floor", "1")],
    )
    .await;
    orders.fail_always(503);
    for _ in 0..3 {
        let response = get_order(&gateway, &token).await;
        assert_eq!(response.status().as_u16(), 503);
    }
    assert_eq!(
        orders.calls(),
        4,
        "three requests and the one retry the budget allows"
    );
}

#[tokio::test]
async fn no_retry_is_made_once_the_breaker_has_opened() {
    let orders = Scripted::start().await;
    let (gateway, token) = gateway_before(
        &orders,
        &[("--breaker-minimum-calls", "2"), ("--retry-attempts", "5")],
    )
    .await;
    orders.fail_always(503);
    let response = get_order(&gateway, &token).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(orders.calls(), 2, "the second failure opened the breaker");
}

#[tokio::test]
async fn an_unreachable_backend_after_every_retry_is_a_502_problem() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let response = get_order(&gateway, &token).await;
    let body = assert_problem(response, 502).await;
    assert_eq!(body["service"], "order-service");
}
