use std::time::{Duration, Instant};

use serde_json::Value;
use shared::testing::assert_problem;

use crate::helpers::{
    Backends, gateway_with_one_upstream, json_of, metrics_of, spawn_gateway, spawn_upstream,
};

#[tokio::test]
async fn a_request_reaches_its_backend_with_method_path_query_and_body() {
    let gateway = gateway_with_one_upstream("/orders", "2s").await;
    let response = reqwest::Client::new()
        .put(format!("{gateway}/orders/echo?b=2&a=1"))
        .header("content-type", "application/json")
        .body(r#"{"quantity":3}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let json_of: Value = response.json().await.expect("json");
    assert_eq!(json_of["method"], "PUT");
    assert_eq!(json_of["path"], "/orders/echo");
    assert_eq!(json_of["query"], "b=2&a=1");
    assert_eq!(json_of["body"], r#"{"quantity":3}"#);
    assert_eq!(json_of["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn each_prefix_goes_to_its_own_backend() {
    let backends = Backends {
        auth: spawn_upstream("/auth").await,
        orders: spawn_upstream("/orders").await,
        restaurants: spawn_upstream("/restaurants").await,
        delivery: spawn_upstream("/delivery").await,
        tracking: spawn_upstream("/tracking").await,
        payments: spawn_upstream("/payments").await,
    };
    let gateway = spawn_gateway(&backends, "2s").await;
    for (prefix, backend) in [
        ("/auth", &backends.auth),
        ("/orders", &backends.orders),
        ("/restaurants", &backends.restaurants),
        ("/delivery", &backends.delivery),
        ("/tracking", &backends.tracking),
        ("/payments", &backends.payments),
    ] {
        let json_of = json_of(reqwest::Client::new().get(format!("{gateway}{prefix}/echo"))).await;
        assert_eq!(json_of["path"], format!("{prefix}/echo"));
        // The backend is addressed by its own name, not the gateway's.
        assert_eq!(
            json_of["headers"]["host"],
            backend.trim_start_matches("http://")
        );
    }
}

#[tokio::test]
async fn the_request_id_is_passed_on_and_returned() {
    let gateway = gateway_with_one_upstream("/orders", "2s").await;
    let response = reqwest::Client::new()
        .get(format!("{gateway}/orders/echo"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let json_of: Value = response.json().await.expect("json");
    assert_eq!(json_of["headers"]["x-request-id"], "req-42");

    let generated = reqwest::get(format!("{gateway}/orders/echo"))
        .await
        .expect("sent");
    let id = generated.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    let json_of: Value = generated.json().await.expect("json");
    assert_eq!(json_of["headers"]["x-request-id"], id.as_str());
}

#[tokio::test]
async fn hop_by_hop_headers_stop_at_the_gateway_and_forwarded_headers_are_added() {
    let gateway = gateway_with_one_upstream("/orders", "2s").await;
    let json_of: Value = json_of(
        reqwest::Client::new()
            .get(format!("{gateway}/orders/echo"))
            .header("proxy-authorization", "Basic c2VjcmV0")
            .header("authorization", "Bearer kept"),
    )
    .await;
    let headers = &json_of["headers"];
    assert!(headers.get("proxy-authorization").is_none(), "{headers}");
    assert_eq!(headers["authorization"], "Bearer kept");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
}

#[tokio::test]
async fn a_large_response_streams_through_whole() {
    let gateway = gateway_with_one_upstream("/orders", "2s").await;
    let body = reqwest::get(format!("{gateway}/orders/big"))
        .await
        .expect("sent")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.len(), 4 * 1024 * 1024);
}

#[tokio::test]
async fn an_unreachable_backend_is_a_502_problem_naming_it_at_once() {
    let gateway = spawn_gateway(&Backends::default(), "2s").await;
    let started = Instant::now();
    let response = reqwest::get(format!("{gateway}/payments/anything"))
        .await
        .expect("sent");
    let body = assert_problem(response, 502).await;
    assert_eq!(body["service"], "payment-service");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("payment-service")
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_backend_slower_than_the_upstream_timeout_is_a_504_problem_naming_it() {
    let gateway = gateway_with_one_upstream("/tracking", "300ms").await;
    let response = reqwest::get(format!("{gateway}/tracking/slow"))
        .await
        .expect("sent");
    let body = assert_problem(response, 504).await;
    assert_eq!(body["service"], "tracking-service");
}

#[tokio::test]
async fn a_path_no_backend_serves_is_a_404_problem() {
    let gateway = spawn_gateway(&Backends::default(), "2s").await;
    let response = reqwest::get(format!("{gateway}/ordersx/1"))
        .await
        .expect("sent");
    assert_problem(response, 404).await;
}

#[tokio::test]
async fn the_callers_trace_context_reaches_the_backend() {
    let gateway = gateway_with_one_upstream("/orders", "2s").await;
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let json_of: Value = json_of(
        reqwest::Client::new()
            .get(format!("{gateway}/orders/echo"))
            .header("traceparent", traceparent),
    )
    .await;
    let forwarded = json_of["headers"]["traceparent"]
        .as_str()
        .unwrap_or_default();
    assert!(
        forwarded.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{forwarded}"
    );
}

#[tokio::test]
async fn proxied_answers_are_counted_by_method_route_template_and_status() {
    let gateway = gateway_with_one_upstream("/orders", "2s").await;
    for _ in 0..2 {
        let response = reqwest::get(format!("{gateway}/orders/echo"))
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200);
    }
    let metrics = metrics_of(&gateway).await;
    assert!(
        metrics
            .contains(r#"http_requests_total{method="GET",route="/orders/{*rest}",status="200"}"#),
        "{metrics}"
    );
}
