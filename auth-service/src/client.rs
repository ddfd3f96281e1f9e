use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::{header, request::Parts};

use crate::state::AppState;

/// Where a request comes from, for lockout counters, sessions and the audit log.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client's address: the peer's, or when the peer is a trusted proxy (the gateway),
    /// the address it says it saw in `X-Forwarded-For`.
    pub ip: String,
    /// The `User-Agent`, shortened.
    pub device: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| state.trusted_proxies.client(&parts.headers, info.0.ip()));
        let device = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(200).collect());
        Ok(Self {
            ip: client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            device,
        })
    }
}
