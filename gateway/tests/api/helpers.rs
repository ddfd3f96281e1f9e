use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::Request,
    http::{HeaderMap, StatusCode},
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
    serve(router).await
}

/// Serves `router` on a free port; returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
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
    // The proxying itself, without the policy, the limits or the cache in the way.
    let config = Config::try_parse_from([
        "gateway",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        "2",
        "--redis-url",
        redis,
        "--redis-key-prefix",
        &unique_prefix(),
        "--public-routes",
        "* /**",
        "--rate-limit",
        "false",
        "--cache",
        "false",
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
        "--admin-port",
        "0",
    ])
    .expect("valid test configuration");
    start(config).await
}

/// Where each gateway of this process serves its operational endpoints, by its URL.
static ADMIN_URLS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// Each gateway's HTTPS port, if it has one, by its URL.
static TLS_PORTS: Mutex<BTreeMap<String, u16>> = Mutex::new(BTreeMap::new());

/// Builds and starts the gateway `config` sets; returns its base URL.
async fn start(config: Config) -> String {
    let app = Application::build(config)
        .await
        .expect("the gateway builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    ADMIN_URLS
        .lock()
        .expect("lock")
        .insert(address.clone(), admin);
    if let Some(port) = app.tls_port() {
        TLS_PORTS
            .lock()
            .expect("lock")
            .insert(address.clone(), port);
    }
    tokio::spawn(app.run_until_stopped());
    address
}

/// The base URL of the operational listener (`/metrics`, `/stats/*`) of the gateway at
/// `gateway`.
pub fn admin_url(gateway: &str) -> String {
    ADMIN_URLS
        .lock()
        .expect("lock")
        .get(gateway)
        .cloned()
        .expect("a gateway started by these helpers")
}

/// The HTTPS port of the gateway at `gateway`, started with TLS by these helpers.
pub fn tls_port(gateway: &str) -> u16 {
    TLS_PORTS
        .lock()
        .expect("lock")
        .get(gateway)
        .copied()
        .expect("a gateway started with TLS by these helpers")
}

/// Sends `request` and returns its JSON answer (from an echoing upstream: what it saw).
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("the request is sent")
        .json()
        .await
        .expect("a JSON body")
}

/// The row of `service` in the gateway's breaker table.
pub async fn breaker_row(client: &reqwest::Client, gateway: &str, service: &str) -> Value {
    let admin = admin_url(gateway);
    let table = json_of(client.get(format!("{admin}/stats/circuit-breakers"))).await;
    table["breakers"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["service"] == service)
        .cloned()
        .expect("a row for the service")
}

/// The gateway's `/metrics` text. One recorder serves every gateway of this test process, so
/// tests assert a series' presence, not its value.
pub async fn metrics_of(gateway: &str) -> String {
    reqwest::get(format!("{}/metrics", admin_url(gateway)))
        .await
        .expect("the request is sent")
        .text()
        .await
        .expect("a text body")
}

/// The value of `series` (its name and labels, as rendered) in a `/metrics` text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
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

/// A Redis key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("gateway-test-{}", uuid::Uuid::now_v7().simple())
}

/// A gateway with every feature on, built flag by flag; backends not given are unreachable.
#[derive(Debug)]
pub struct GatewayBuilder {
    flags: Vec<(String, String)>,
}

impl GatewayBuilder {
    /// Test defaults: loopback, a free port, the shared Redis under a fresh key prefix, short
    /// timeouts, every backend unreachable.
    pub fn new(issuer: &shared::testing::TestIssuer) -> Self {
        let mut builder = Self { flags: Vec::new() };
        for (flag, value) in [
            ("--host", "127.0.0.1"),
            ("--port", "0"),
            // Two serving threads, as on a two-core machine.
            ("--workers", "2"),
            ("--redis-url", "redis://127.0.0.1:6379"),
            ("--redis-key-prefix", &unique_prefix()),
            ("--auth-jwks-url", &issuer.jwks_url),
            ("--upstream-timeout", "2s"),
            ("--retry-base", "10ms"),
            ("--retry-cap", "100ms"),
            ("--admin-port", "0"),
        ] {
            builder = builder.arg(flag, value);
        }
        for flag in [
            "--auth-service-url",
            "--order-service-url",
            "--restaurant-service-url",
            "--delivery-service-url",
            "--tracking-service-url",
            "--payment-service-url",
        ] {
            builder = builder.arg(flag, CLOSED);
        }
        builder
    }

    /// Sets `flag` (a later value replaces an earlier one).
    pub fn arg(mut self, flag: &str, value: &str) -> Self {
        self.flags.retain(|(existing, _)| existing != flag);
        self.flags.push((flag.into(), value.into()));
        self
    }

    /// Serves HTTPS too, on a free port, with the certificate and key in `dir` (`cert.pem`,
    /// `key.pem`), read again every 50 ms.
    pub fn tls(self, dir: &std::path::Path) -> Self {
        self.arg("--tls-port", "0")
            .arg(
                "--tls-cert-file",
                &dir.join("cert.pem").display().to_string(),
            )
            .arg("--tls-key-file", &dir.join("key.pem").display().to_string())
            .arg("--tls-reload-interval", "50ms")
    }

    /// Points `service`'s URL flag (`order`, `restaurant`, ...) at `url`.
    pub fn backend(self, service: &str, url: &str) -> Self {
        self.arg(&format!("--{service}-service-url"), url)
    }

    /// Starts it; returns its base URL.
    pub async fn spawn(self) -> String {
        shared::telemetry::init_for_tests();
        let args = std::iter::once("gateway".to_owned()).chain(
            self.flags
                .into_iter()
                .flat_map(|(flag, value)| [flag, value]),
        );
        let config = Config::try_parse_from(args).expect("valid test configuration");
        start(config).await
    }
}

/// A backend whose answers a test controls: it counts calls, fails on demand, and says
/// what `Cache-Control` it is told to.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub url: String,
    script: std::sync::Arc<Script>,
}

#[derive(Debug, Default)]
struct Script {
    calls: AtomicU32,
    failures_left: AtomicU32,
    failure_status: AtomicU16,
    delay_ms: AtomicU64,
    retry_after: Mutex<Option<String>>,
    cache_control: Mutex<Option<String>>,
}

impl Scripted {
    /// Serves every path (but `/ready`, which is not counted) on a free port.
    pub async fn start() -> Self {
        let script = std::sync::Arc::new(Script::default());
        let router = Router::new()
            .route("/ready", get(|| async { "ready" }))
            .fallback(any(answer))
            .with_state(script.clone());
        Self {
            url: serve(router).await,
            script,
        }
    }

    /// Calls received so far.
    pub fn calls(&self) -> u32 {
        self.script.calls.load(Ordering::SeqCst)
    }

    /// The next `count` calls answer `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        self.script.failure_status.store(status, Ordering::SeqCst);
        self.script.failures_left.store(count, Ordering::SeqCst);
    }

    /// Every call answers `status` until [`Scripted::recover`].
    pub fn fail_always(&self, status: u16) {
        self.fail_next(u32::MAX, status);
    }

    /// Calls succeed again.
    pub fn recover(&self) {
        self.script.failures_left.store(0, Ordering::SeqCst);
    }

    /// Successful answers carry this `Cache-Control`.
    pub fn cache_control(&self, value: &str) {
        *self.script.cache_control.lock().expect("lock") = Some(value.to_owned());
    }

    /// Failures carry this `Retry-After`.
    pub fn retry_after(&self, value: &str) {
        *self.script.retry_after.lock().expect("lock") = Some(value.to_owned());
    }

    /// Every answer waits this long first.
    pub fn delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).expect("a short delay");
        self.script.delay_ms.store(millis, Ordering::SeqCst);
    }
}

async fn answer(
    axum::extract::State(script): axum::extract::State<std::sync::Arc<Script>>,
    request: Request,
) -> axum::response::Response {
    let call = script.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = script.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = script
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let mut response = if failing {
        let status = script.failure_status.load(Ordering::SeqCst);
        let mut response = (
            StatusCode::from_u16(status).expect("a status"),
            "failing on purpose",
        )
            .into_response();
        if let Some(value) = script.retry_after.lock().expect("lock").clone() {
            response
                .headers_mut()
                .insert("retry-after", value.parse().expect("a header value"));
        }
        response
    } else {
        let mut response = Json(json!({
            "call": call,
            "method": request.method().as_str(),
            "path": request.uri().path(),
            "query": request.uri().query(),
            "authorization": request.headers().get("authorization").and_then(|v| v.to_str().ok()),
        }))
        .into_response();
        if let Some(value) = script.cache_control.lock().expect("lock").clone() {
            response
                .headers_mut()
                .insert("cache-control", value.parse().expect("a header value"));
        }
        response
    };
    response
        .headers_mut()
        .insert("x-upstream-call", call.into());
    response
}
