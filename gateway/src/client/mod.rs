//! The gateway's HTTP clients: its own HTTP/1.1 client and connection pool for proxied
//! requests (see `docs/adr/0001-own-http-client.md`), and hyper-util's for readiness probes.

mod body;
mod conn;
mod decode;
mod idle;
mod pool;
#[cfg(test)]
mod raw_origin;
mod request;
mod response;
#[cfg(test)]
mod wire_tests;

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

pub use self::{
    body::PooledBody,
    conn::PoolError,
    pool::{OriginPool, dial_address},
};

/// A pooled HTTP/1.1 client whose request bodies stream.
pub type HttpClient = Client<HttpConnector, Body>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A client with a connect time-out, TCP no-delay and pooled keep-alive connections.
pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

/// Another HTTP service, checked through its `GET /ready`.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Its base URL, without a trailing slash.
    pub base_url: String,
    client: HttpClient,
}

impl Upstream {
    /// A service at `base_url`, called with `client`.
    pub fn new(base_url: &str, client: HttpClient) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client,
        }
    }

    /// Readiness: the service answers `GET /ready` with 200 in time.
    pub async fn check(&self) -> Result<(), String> {
        let request = Request::get(format!("{}/ready", self.base_url))
            .body(Body::empty())
            .map_err(|_| "invalid URL".to_owned())?;
        match tokio::time::timeout(PROBE_TIMEOUT, self.client.request(request)).await {
            Err(_) => Err("timed out".into()),
            Ok(Err(_)) => Err("unreachable".into()),
            Ok(Ok(response)) if response.status() == StatusCode::OK => Ok(()),
            Ok(Ok(response)) => Err(format!("not ready ({})", response.status().as_u16())),
        }
    }
}

impl shared::health::HealthCheck for Upstream {
    fn check(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(Upstream::check(self))
    }

    fn target(&self) -> Option<String> {
        Some(self.base_url.clone())
    }
}
