use serde_json::Value;
use shared::testing::assert_problem;

use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn ready_names_mongodb_as_up() {
    let (address, _) = spawn_app().await;
    for path in ["/ready", "/restaurants/ready"] {
        let response = reqwest::get(format!("{address}{path}"))
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["checks"]["mongodb"]["status"], "up");
    }
}

#[tokio::test]
async fn with_mongodb_unreachable_it_starts_and_ready_says_so() {
    let address = spawn_with(
        "mongodb://127.0.0.1:1/?directConnection=true",
        "restaurants",
    )
    .await;
    let health = reqwest::get(format!("{address}/health"))
        .await
        .expect("sent");
    assert_eq!(health.status().as_u16(), 200);
    let ready = reqwest::get(format!("{address}/ready"))
        .await
        .expect("sent");
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["mongodb"]["status"], "down");
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let (address, _) = spawn_app().await;
    let response = reqwest::get(format!("{address}/restaurants/x/y/z"))
        .await
        .expect("sent");
    assert_problem(response, 404).await;
}
