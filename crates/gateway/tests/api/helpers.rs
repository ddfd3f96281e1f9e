use std::{collections::BTreeMap, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::Request,
    http::HeaderMap,
    response::IntoResponse,
    routing::{any, get},
};
use clap::Parser;
use gateway::{Application, Config};
use serde_json::{Value, json};

/// A port nothing listens on.
pub const CLOSED: &str = "http://127.0.0.1:1";

/// A real HTTP server standing in for a backend: echoes what it receives, or is slow.
pub async fn spawn_upstream(prefix: &str) -> String {
    let router = Router::new()
        .route(&format!("{prefix}/echo"), any(echo))
        .route(&format!("{prefix}/slow"), get(slow))
        .route(&format!("{prefix}/big"), get(big))
        .route("/ready", get(|| async { "ready" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

async fn echo(headers: HeaderMap, request: Request) -> Json<Value> {
    let method = request.method().to_string();
    let uri = request.uri().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Json(json!({
        "method": method,
        "path": uri.path(),
        "query": uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "late"
}

async fn big() -> impl IntoResponse {
    Bytes::from(vec![b'x'; 4 * 1024 * 1024])
}

/// The gateway's backend URLs, by flag; unset ones point at a closed port.
#[derive(Debug, Clone)]
pub struct Backends {
    pub auth: String,
    pub orders: String,
    pub restaurants: String,
    pub delivery: String,
    pub tracking: String,
    pub payments: String,
}

impl Default for Backends {
    fn default() -> Self {
        Self {
            auth: CLOSED.into(),
            orders: CLOSED.into(),
            restaurants: CLOSED.into(),
            delivery: CLOSED.into(),
            tracking: CLOSED.into(),
            payments: CLOSED.into(),
        }
    }
}

/// Starts the gateway on a free port in front of `backends`; returns its base URL.
pub async fn spawn_gateway(backends: &Backends, upstream_timeout: &str) -> String {
    spawn_gateway_with_redis(backends, upstream_timeout, "redis://127.0.0.1:6379").await
}

/// As `spawn_gateway`, with the given Redis.
pub async fn spawn_gateway_with_redis(
    backends: &Backends,
    upstream_timeout: &str,
    redis: &str,
) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "gateway",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--redis-url",
        redis,
        "--auth-service-url",
        &backends.auth,
        "--order-service-url",
        &backends.orders,
        "--restaurant-service-url",
        &backends.restaurants,
        "--delivery-service-url",
        &backends.delivery,
        "--tracking-service-url",
        &backends.tracking,
        "--payment-service-url",
        &backends.payments,
        "--upstream-timeout",
        upstream_timeout,
    ])
    .expect("valid test configuration");
    let app = Application::build(config)
        .await
        .expect("the gateway builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// Sends `request` and returns what the echoing upstream saw.
pub async fn echoed(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("the request is sent")
        .json()
        .await
        .expect("a JSON body")
}

/// A gateway whose backend for `prefix` is an echoing upstream; the others are unreachable.
pub async fn gateway_with_one_upstream(prefix: &str, upstream_timeout: &str) -> String {
    let upstream = spawn_upstream(prefix).await;
    let mut backends = Backends::default();
    let slot = match prefix {
        "/auth" => &mut backends.auth,
        "/orders" => &mut backends.orders,
        "/restaurants" => &mut backends.restaurants,
        "/delivery" => &mut backends.delivery,
        "/tracking" => &mut backends.tracking,
        "/payments" => &mut backends.payments,
        other => panic!("no backend serves {other}"),
    };
    *slot = upstream;
    spawn_gateway(&backends, upstream_timeout).await
}
