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

#[tokio::test]
async fn with_the_broker_down_it_is_ready_and_keeps_account_events_in_its_outbox() {
    let database =
        shared::testing::TestDatabase::create(&shared::testing::postgres_server_url(), "auth")
            .await;
    let broker = TestBroker::new();
    let address = crate::helpers::spawn_with_broker_at(
        &database.url(),
        &broker,
        "amqp://guest:guest@127.0.0.1:1/%2f",
        &[],
    )
    .await;
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{address}/ready"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        ready.status().as_u16(),
        200,
        "the broker is not needed to sign in"
    );
    let registered = client
        .post(format!("{address}/auth/register"))
        .json(&serde_json::json!({
            "email": "ada@example.com",
            "password": crate::helpers::PASSWORD,
            "display_name": "Ada"
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(registered.status().as_u16(), 201);
    let reset = client
        .post(format!("{address}/auth/password/reset"))
        .json(&serde_json::json!({"email": "ada@example.com"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(reset.status().as_u16(), 202);
    let pool = sqlx::PgPool::connect_with(database.options())
        .await
        .expect("the test database");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE routing_key = 'account.password_reset_requested' AND published_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        if waiting == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reset link waits in the outbox"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
