use std::time::Duration;

use reqwest::Client;
use shared::testing::{TestIssuer, assert_problem};

use crate::{
    helpers::{GatewayBuilder, Scripted, breaker_row},
    raw::{post_chunked, post_cut_off},
};

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_the_backend() {
    let issuer = TestIssuer::start().await;
    let auth = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("auth", &auth.url)
        .arg("--body-limit", "1024")
        .spawn()
        .await;
    let response = Client::new()
        .post(format!("{gateway}/auth/register"))
        .header("content-type", "application/json")
        .body(vec![b'x'; 4096])
        .send()
        .await
        .expect("sent");
    let body = assert_problem(response, 413).await;
    assert!(body["detail"].as_str().expect("detail").contains("1024"));
    assert_eq!(auth.calls(), 0);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused_with_413_and_the_backend_not_blamed() {
    let issuer = TestIssuer::start().await;
    let auth = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("auth", &auth.url)
        .arg("--body-limit", "1024")
        .arg("--breaker-minimum-calls", "2")
        .spawn()
        .await;
    let address = gateway.trim_start_matches("http://");
    for _ in 0..3 {
        // No length declared: the limit is found only as the body streams on.
        let answer = post_chunked(address, "/auth/register", 8, 512).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("1024"), "{answer}");
    }
    let within = post_chunked(address, "/auth/register", 1, 512).await;
    assert!(
        within.starts_with("HTTP/1.1 200"),
        "the breaker stayed closed: {within}"
    );
}

#[tokio::test]
async fn a_client_gone_mid_body_does_not_count_against_the_backend() {
    let issuer = TestIssuer::start().await;
    let auth = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("auth", &auth.url)
        .arg("--breaker-minimum-calls", "2")
        .spawn()
        .await;
    let address = gateway.trim_start_matches("http://");
    for _ in 0..3 {
        post_cut_off(address, "/auth/register", 4096, 512).await;
    }
    // On a pooled connection the cut-off requests might have left half-written.
    let whole = post_chunked(address, "/auth/register", 1, 512).await;
    assert!(
        whole.starts_with("HTTP/1.1 200"),
        "the breaker stayed closed and the backend's connections sound: {whole}"
    );
    let auth_row = breaker_row(&Client::new(), &gateway, "auth-service").await;
    assert_eq!(auth_row["failures"], 0, "{auth_row}");
}

#[tokio::test]
async fn answers_carry_security_headers_and_cors_answers_the_configured_origin() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--cors-origins", "https://app.example.com")
        .spawn()
        .await;
    let client = Client::new();
    let response = client
        .get(format!("{gateway}/restaurants"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("sent");
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        headers["access-control-expose-headers"]
            .to_str()
            .expect("text")
            .contains("x-cache")
    );

    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{gateway}/orders"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(preflight.status().as_u16(), 200, "answered without a token");
    assert!(
        preflight.headers().contains_key("x-request-id"),
        "a preflight has an id like any answer"
    );
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .expect("text")
            .contains("POST")
    );

    let stranger = client
        .get(format!("{gateway}/restaurants"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .expect("sent");
    assert!(
        !stranger
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_are_shed_with_503_at_once() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.delay(Duration::from_millis(800));
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--max-concurrency", "1")
        .arg("--cache", "false")
        .spawn()
        .await;
    let client = Client::new();
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), format!("{gateway}/restaurants/slow"));
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = client
        .get(format!("{gateway}/restaurants/other"))
        .send()
        .await
        .expect("sent");
    assert_eq!(shed.headers()["retry-after"], "1");
    let body = assert_problem(shed, 503).await;
    assert_eq!(body["type"], "/problems/overloaded");
    assert_eq!(slow.await.expect("joined"), 200);
}

#[tokio::test]
async fn a_proxied_request_over_the_request_timeout_is_a_503_problem() {
    let issuer = TestIssuer::start().await;
    let orders = Scripted::start().await;
    orders.delay(Duration::from_millis(1500));
    let gateway = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .arg("--public-routes", "GET /orders/**")
        .arg("--request-timeout", "300ms")
        .arg("--upstream-timeout", "10s")
        .spawn()
        .await;
    let started = std::time::Instant::now();
    let response = Client::new()
        .get(format!("{gateway}/orders/slow"))
        .header("x-request-id", "req-slow")
        .send()
        .await
        .expect("sent");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "not waited out"
    );
    assert_eq!(response.headers()["x-request-id"], "req-slow");
    assert_eq!(
        response.headers()["x-content-type-options"],
        "nosniff",
        "a timed-out answer carries the security headers too"
    );
    let body = assert_problem(response, 503).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("took longer"),
        "{body}"
    );
}
