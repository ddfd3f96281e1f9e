//! The cache as an RFC 9111 shared cache, against an origin that sends each header
//! combination a test gives it.

mod framing;
mod freshness;
mod stale;
mod validation;
mod variants;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime},
};

use axum::{Router, extract::State, http::Request, response::IntoResponse, routing::any};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use reqwest::Client;
use shared::testing::TestIssuer;

use crate::helpers::GatewayBuilder;

/// What the origin answers at one path.
#[derive(Debug, Clone)]
struct Script {
    status: u16,
    headers: Vec<(String, String)>,
    delay: Duration,
    /// A request naming this entity tag in `If-None-Match` gets 304 with these fields.
    not_modified: Option<(String, Vec<(String, String)>)>,
}

/// An origin whose answers the test sets per path; each body is the call's number there.
#[derive(Clone)]
pub struct Origin {
    pub url: String,
    scripts: Arc<Mutex<HashMap<String, Script>>>,
    calls: Arc<Mutex<HashMap<String, Arc<AtomicU32>>>>,
}

impl Origin {
    pub async fn start() -> Self {
        let origin = Self {
            url: String::new(),
            scripts: Arc::default(),
            calls: Arc::default(),
        };
        let router = Router::new()
            .fallback(any(answer))
            .with_state(origin.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, ..origin }
    }

    /// `path` answers 200 with `headers` from now on (an error status, without them).
    pub fn serve(&self, path: &str, headers: &[(&str, &str)]) {
        self.script(path, 200, headers, Duration::ZERO);
    }

    pub fn script(&self, path: &str, status: u16, headers: &[(&str, &str)], delay: Duration) {
        let headers = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        self.scripts.lock().expect("lock").insert(
            path.to_owned(),
            Script {
                status,
                headers,
                delay,
                not_modified: None,
            },
        );
    }

    /// Changes only `path`'s status, keeping its headers.
    pub fn answer_with(&self, path: &str, status: u16, delay: Duration) {
        if let Some(script) = self.scripts.lock().expect("lock").get_mut(path) {
            script.status = status;
            script.delay = delay;
        }
    }

    /// A request naming `etag` gets 304 with `etag` and `headers` from now on.
    pub fn not_modified_for(&self, path: &str, etag: &str, headers: &[(&str, &str)]) {
        let headers = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        if let Some(script) = self.scripts.lock().expect("lock").get_mut(path) {
            script.not_modified = Some((etag.to_owned(), headers));
        }
    }

    pub fn calls(&self, path: &str) -> u32 {
        self.counter(path).load(Ordering::SeqCst)
    }

    fn counter(&self, path: &str) -> Arc<AtomicU32> {
        self.calls
            .lock()
            .expect("lock")
            .entry(path.to_owned())
            .or_default()
            .clone()
    }
}

async fn answer(
    State(origin): State<Origin>,
    request: Request<axum::body::Body>,
) -> impl IntoResponse {
    let path = request.uri().path().to_owned();
    let call = origin.counter(&path).fetch_add(1, Ordering::SeqCst) + 1;
    let script = origin.scripts.lock().expect("lock").get(&path).cloned();
    let Some(script) = script else {
        return (StatusCode::NOT_FOUND, HeaderMap::new(), String::new());
    };
    tokio::time::sleep(script.delay).await;
    let named = request
        .headers()
        .get("if-none-match")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if let Some((etag, fields)) = &script.not_modified
        && named.contains(etag.as_str())
    {
        let mut headers = HeaderMap::new();
        headers.insert("etag", HeaderValue::from_str(etag).expect("a value"));
        for (name, value) in fields {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        return (StatusCode::NOT_MODIFIED, headers, String::new());
    }
    let status = StatusCode::from_u16(script.status).expect("a status");
    let mut headers = HeaderMap::new();
    // An error page says nothing of caching, as most do.
    let said = if status.is_success() {
        script.headers.as_slice()
    } else {
        &[]
    };
    for (name, value) in said {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a name"),
            HeaderValue::from_str(value).expect("a value"),
        );
    }
    (status, headers, format!("call {call}"))
}

/// A gateway with restaurant-service at `origin`, calls timing out after 300 ms.
pub async fn gateway(origin: &Origin, extra: &[(&str, &str)]) -> String {
    let issuer = TestIssuer::start().await;
    let mut builder = GatewayBuilder::new(&issuer)
        .backend("restaurant", &origin.url)
        .arg("--upstream-timeout", "300ms")
        .arg("--retry-attempts", "1");
    for (flag, value) in extra {
        builder = builder.arg(flag, value);
    }
    builder.spawn().await
}

/// One GET: `X-Cache`, body, headers.
pub async fn get(
    gateway: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, String, HeaderMap) {
    let mut request = Client::new().get(format!("{gateway}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    let headers = response.headers().clone();
    let cache = headers
        .get("x-cache")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    (cache, format!("{status} {body}"), headers)
}

/// `x-cache` of each of `count` GETs of `path`.
pub async fn outcomes(gateway: &str, path: &str, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..count {
        seen.push(get(gateway, path, &[]).await.0);
    }
    seen
}

pub fn http_date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}
