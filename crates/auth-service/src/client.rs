use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::{header, request::Parts};

/// Where a request comes from, for lockout counters, sessions and the audit log.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client's address: the last `X-Forwarded-For` hop (added by the gateway in front
    /// of this service), else the peer address.
    pub ip: String,
    /// The `User-Agent`, shortened.
    pub device: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|chain| chain.rsplit(',').next())
            .map(|hop| hop.trim().to_owned())
            .filter(|hop| !hop.is_empty());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        let device = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(200).collect());
        Ok(Self {
            ip: forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned()),
            device,
        })
    }
}
