//! The gateway's HTTP calls off the proxied path: the readiness probes of the services
//! behind it, for its `/health`, and the smoke checks of a deployment's new colour. They go
//! through reqwest, as the other services' calls do; proxied requests take the gateway's
//! own client instead (`client`).

use std::time::Duration;

use http::StatusCode;

/// The client of the calls off the proxied path; cloning shares its connections.
pub type ProbeClient = reqwest::Client;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A client with a connect time-out, TCP no-delay and pooled keep-alive connections, over
/// HTTP/1.1. It follows no redirect, since a check judges the status it is answered, and
/// takes no proxy from the environment: the services are called where they are configured.
pub fn probe_client() -> ProbeClient {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a client without TLS or resolver settings always builds")
}

/// Another HTTP service, checked through its `GET /ready`.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Its base URL, without a trailing slash.
    pub base_url: String,
    client: ProbeClient,
}

impl Upstream {
    /// A service at `base_url`, called with `client`.
    pub fn new(base_url: &str, client: ProbeClient) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client,
        }
    }

    /// Readiness: the service answers `GET /ready` with 200 in time.
    pub async fn check(&self) -> Result<(), String> {
        let request = self
            .client
            .get(format!("{}/ready", self.base_url))
            .build()
            .map_err(|_| "invalid URL".to_owned())?;
        match tokio::time::timeout(PROBE_TIMEOUT, self.client.execute(request)).await {
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
