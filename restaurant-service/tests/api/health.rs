use serde_json::Value;
use shared::testing::{TestIssuer, assert_problem};

use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn ready_names_mongodb_as_up() {
    let app = spawn_app().await;
    for path in ["/ready", "/restaurants/ready"] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["checks"]["mongodb"]["status"], "up");
    }
}

#[tokio::test]
async fn with_mongodb_unreachable_it_starts_says_so_and_reads_are_503_problems() {
    let issuer = TestIssuer::start().await;
    let address = spawn_with(
        "mongodb://127.0.0.1:1/?directConnection=true",
        "restaurants",
        &issuer.jwks_url,
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
    assert_problem(
        reqwest::get(format!("{address}/restaurants"))
            .await
            .expect("sent"),
        503,
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    assert_problem(app.get("/restaurants/x/y/z").await, 404).await;
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let app = spawn_app().await;
    let body = app.get_json("/openapi.json").await;
    for path in [
        "/restaurants",
        "/restaurants/{id}",
        "/restaurants/{id}/menu",
        "/restaurants/{id}/menu/items/{item_id}",
    ] {
        assert!(body["paths"][path].is_object(), "{path}");
    }
}
