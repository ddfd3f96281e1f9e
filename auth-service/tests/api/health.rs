use serde_json::Value;

use messaging::testing::TestBroker;

use crate::helpers::{assert_problem, spawn_app, spawn_with_stores};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "auth-service");
}

#[tokio::test]
async fn ready_names_postgres_as_up_and_is_served_under_the_prefix_too() {
    let app = spawn_app().await;
    for path in ["/ready", "/auth/ready"] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["postgres"]["status"], "up");
    }
}

#[tokio::test]
async fn with_postgres_unreachable_it_starts_and_ready_says_postgres_is_down() {
    let broker = TestBroker::new();
    let address = spawn_with_stores("postgres://postgres@127.0.0.1:1/auth", &broker, &[]).await;
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
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["postgres"]["status"], "down");
    assert_eq!(body["checks"]["postgres"]["error"], "unreachable");
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    app.get("/health").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("text");
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn openapi_documents_the_api_and_the_operational_endpoints() {
    let app = spawn_app().await;
    let body: Value = app.get("/openapi.json").await.json().await.expect("json");
    assert_eq!(body["info"]["title"], "auth-service");
    for path in [
        "/auth/register",
        "/health",
        "/ready",
        "/metrics",
        "/auth/ready",
    ] {
        assert!(body["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let body = assert_problem(app.get("/auth/nowhere").await, 404).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("/auth/nowhere")
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_listing_the_allowed_ones() {
    let app = spawn_app().await;
    let response = app.get("/auth/register").await;
    let allow = response
        .headers()
        .get("allow")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_problem(response, 405).await;
    assert_eq!(allow, "POST");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = spawn_app().await;
    let generated = app.get("/health").await;
    assert!(generated.headers().contains_key("x-request-id"));
    let kept = app
        .client
        .get(format!("{}/health", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("sent");
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
}
