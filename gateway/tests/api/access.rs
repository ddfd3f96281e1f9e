use serde_json::Value;
use shared::{
    auth::Role,
    testing::{TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted};

async fn gateway_in_front_of_orders() -> (String, TestIssuer, Scripted) {
    let issuer = TestIssuer::start().await;
    let orders = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .arg("--cache", "false")
        .spawn()
        .await;
    (gateway, issuer, orders)
}

#[tokio::test]
async fn a_request_without_a_token_is_refused_with_401_and_a_challenge_before_the_backend() {
    let (gateway, _issuer, orders) = gateway_in_front_of_orders().await;
    let response = reqwest::get(format!("{gateway}/orders"))
        .await
        .expect("sent");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let body = assert_problem(response, 401).await;
    assert_eq!(body["type"], "/problems/unauthorized");
    assert_eq!(orders.calls(), 0, "the backend never saw it");
}

#[tokio::test]
async fn a_token_with_a_bad_signature_or_from_an_unknown_issuer_is_refused() {
    let (gateway, issuer, orders) = gateway_in_front_of_orders().await;
    let good = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let (head, rest) = good.split_once('.').expect("a JWT");
    let (payload, signature) = rest.split_once('.').expect("a JWT");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{payload}.{flipped}{}", &signature[1..]);
    let stranger = TestIssuer::start()
        .await
        .token(Uuid::now_v7(), &[Role::Customer]);
    let client = reqwest::Client::new();
    for token in [tampered, stranger, "not-a-jwt".to_owned()] {
        let response = client
            .get(format!("{gateway}/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .expect("text")
                .contains("invalid_token")
        );
        assert_problem(response, 401).await;
    }
    assert_eq!(orders.calls(), 0);
}

#[tokio::test]
async fn a_token_without_the_routes_permission_is_refused_with_403_naming_it() {
    let (gateway, issuer, orders) = gateway_in_front_of_orders().await;
    let courier = issuer.token(Uuid::now_v7(), &[Role::Courier]);
    let response = reqwest::Client::new()
        .post(format!("{gateway}/orders"))
        .bearer_auth(courier)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("sent");
    let body = assert_problem(response, 403).await;
    assert!(
        body["detail"]
            .as_str()
            .expect("a detail")
            .contains("orders:create"),
        "{body}"
    );
    assert_eq!(orders.calls(), 0);
}

#[tokio::test]
async fn a_valid_token_with_the_permission_reaches_the_backend_with_its_authorization() {
    let (gateway, issuer, orders) = gateway_in_front_of_orders().await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let response = reqwest::Client::new()
        .get(format!("{gateway}/orders?status=PENDING"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["authorization"], format!("Bearer {token}"));
    assert_eq!(orders.calls(), 1);
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .spawn()
        .await;
    let response = reqwest::get(format!("{gateway}/restaurants?cuisine=thai"))
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let refused = reqwest::Client::new()
        .post(format!("{gateway}/restaurants"))
        .send()
        .await
        .expect("sent");
    assert_problem(refused, 401).await;
}

#[tokio::test]
async fn with_auth_services_keys_unreachable_a_token_gets_a_503_problem_at_once() {
    let issuer = TestIssuer::start().await;
    let orders = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .arg(
            "--auth-jwks-url",
            "http://127.0.0.1:1/.well-known/jwks.json",
        )
        .spawn()
        .await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let response = reqwest::Client::new()
        .get(format!("{gateway}/orders"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_problem(response, 503).await;
    assert_eq!(orders.calls(), 0);
    let public = reqwest::get(format!("{gateway}/restaurants/ready"))
        .await
        .expect("sent");
    assert_ne!(
        public.status().as_u16(),
        503,
        "public routes do not need the keys"
    );
}
