use std::time::Duration;

use serde_json::Value;
use shared::testing::assert_problem;

use crate::helpers::{spawn_app, spawn_with};

/// Polls `/ready` until it answers 200 (the broker connects in the background).
async fn ready_body(address: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut last = (0, Value::Null);
    for _ in 0..50 {
        let response = client
            .get(format!("{address}/ready"))
            .send()
            .await
            .expect("sent");
        last = (
            response.status().as_u16(),
            response.json().await.expect("json"),
        );
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn ready_names_postgres_and_rabbitmq_as_up() {
    let app = spawn_app().await;
    let (status, body) = ready_body(&app.address).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["service"], "payment-service");
    assert_eq!(body["checks"]["postgres"]["status"], "up");
    assert_eq!(body["checks"]["rabbitmq"]["status"], "up");
    let prefixed = app.get("/payments/ready").await;
    assert_eq!(prefixed.status().as_u16(), 200);
}

#[tokio::test]
async fn with_its_stores_unreachable_it_still_starts_and_says_which_are_down() {
    let address = spawn_with(
        "postgres://postgres@127.0.0.1:1/payments",
        "amqp://guest:guest@127.0.0.1:1/%2f",
    )
    .await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{address}/health"))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status().as_u16(), 200);
    let ready = client
        .get(format!("{address}/ready"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["postgres"]["status"], "down");
    assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
}

#[tokio::test]
async fn with_only_the_broker_down_ready_names_it_alone() {
    let app = spawn_app().await;
    let address = spawn_with(&app.database.url(), "amqp://guest:guest@127.0.0.1:1/%2f").await;
    let body: Value = reqwest::get(format!("{address}/ready"))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(body["checks"]["postgres"]["status"], "up");
    assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    assert_problem(app.get("/payments/nowhere/at/all").await, 404).await;
}

#[tokio::test]
async fn openapi_names_the_service() {
    let app = spawn_app().await;
    let body: Value = app.get("/openapi.json").await.json().await.expect("json");
    assert_eq!(body["info"]["title"], "payment-service");
    assert!(body["paths"]["/payments/ready"].is_object());
}
