//! Forwarding one request to its backend: bodies stream both ways, hop-by-hop headers are
//! dropped, `X-Forwarded-*` added, the request id passed on, and the wait for the response
//! headers bounded.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request, State},
    response::{IntoResponse, Response},
    routing::any,
};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use shared::{Problem, upstream::HttpClient};

use crate::backends::Backend;

/// What the proxy handlers share.
#[derive(Debug, Clone)]
pub struct ProxyState {
    pub client: HttpClient,
    pub upstream_timeout: Duration,
}

/// Routes every backend's prefix, and everything below it, to that backend.
pub fn router(state: ProxyState, backends: &Arc<[Backend]>) -> Router {
    backends
        .iter()
        .fold(Router::new(), |router, backend| {
            let handler = {
                let backend = backend.clone();
                move |state, peer, request| forward_request(state, backend, peer, request)
            };
            router
                .route(backend.prefix, any(handler.clone()))
                .route(&format!("{}/{{*rest}}", backend.prefix), any(handler))
        })
        .with_state(state)
}

/// Sends `request` to `backend` and streams its answer back.
async fn forward_request(
    State(state): State<ProxyState>,
    backend: Backend,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let Ok(uri) = format!("{}{path_and_query}", backend.upstream.base_url).parse::<Uri>() else {
        return Problem::bad_request("The request target cannot be forwarded.").into_response();
    };
    remove_hop_by_hop(&mut parts.headers);
    add_forwarded(&mut parts.headers, peer);
    shared::http::inject_trace_context(&mut parts.headers);
    parts.headers.remove(header::HOST);
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;
    let outcome = tokio::time::timeout(
        state.upstream_timeout,
        state.client.request(Request::from_parts(parts, body)),
    )
    .await;
    let (response, outcome_label) = match outcome {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            remove_hop_by_hop(&mut parts.headers);
            (Response::from_parts(parts, Body::new(body)), "response")
        }
        Ok(Err(err)) => {
            tracing::warn!(service = backend.name, error = %err, "backend unreachable");
            let problem = Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-unreachable",
                "Bad gateway",
            )
            .with_detail(format!("{} could not be reached.", backend.name))
            .with_extension("service", backend.name);
            (problem.into_response(), "unreachable")
        }
        Err(_) => {
            tracing::warn!(service = backend.name, timeout = ?state.upstream_timeout, "backend timed out");
            let problem = Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Gateway timeout",
            )
            .with_detail(format!(
                "{} did not answer within {}.",
                backend.name,
                humantime::format_duration(state.upstream_timeout)
            ))
            .with_extension("service", backend.name);
            (problem.into_response(), "timeout")
        }
    };
    metrics::counter!("gateway_upstream_requests_total", "service" => backend.name, "outcome" => outcome_label)
        .increment(1);
    response
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus any the
/// `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

/// `X-Forwarded-For` (appended to), `-Host` and `-Proto` (kept when already set).
fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr) {
    const FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    const HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    const PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    let chain = match headers.get(&FOR).and_then(|value| value.to_str().ok()) {
        Some(existing) => format!("{existing}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert(FOR, value);
    }
    if !headers.contains_key(&HOST)
        && let Some(host) = headers.get(header::HOST).cloned()
    {
        headers.insert(HOST, host);
    }
    if !headers.contains_key(&PROTO) {
        headers.insert(PROTO, HeaderValue::from_static("http"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                    HeaderValue::from_str(value).expect("a value"),
                )
            })
            .collect()
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-session-hint"),
            ("keep-alive", "timeout=5"),
            ("x-session-hint", "abc"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic x"),
            ("upgrade", "websocket"),
            ("authorization", "Bearer token"),
            ("x-request-id", "r1"),
        ]);
        remove_hop_by_hop(&mut map);
        let mut left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "x-request-id"]);
    }

    #[test]
    fn forwarded_for_is_appended_and_host_and_proto_are_kept() {
        let peer: SocketAddr = "10.1.2.3:5555".parse().expect("an address");
        let mut map = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("host", "api.example.com"),
        ]);
        add_forwarded(&mut map, peer);
        assert_eq!(map["x-forwarded-for"], "203.0.113.7, 10.1.2.3");
        assert_eq!(map["x-forwarded-host"], "api.example.com");
        assert_eq!(map["x-forwarded-proto"], "http");
    }
}
