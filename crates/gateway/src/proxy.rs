//! Forwarding one request to its backend: hop-by-hop headers are dropped, `X-Forwarded-*`
//! added, the request id and trace context passed on; GETs go through the cache, writes
//! invalidate it, and every call passes the backend's breaker and retry rules.

use std::{net::SocketAddr, time::Instant};

use axum::{
    body::{Body, HttpBody as _},
    extract::Request,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method,
    header::{self, Entry},
    uri::PathAndQuery,
};
use shared::Problem;
use shared::upstream::PooledBody;

use crate::{
    access::Caller,
    cache::Directives,
    cached,
    forwarded::X_FORWARDED_FOR,
    state::GatewayState,
    upstream::{Backend, Outbound, OutboundBody, is_idempotent},
};

/// The `X-Cache` header.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Sends `request` (admitted) to `backend`, or answers it from the cache, and streams the
/// answer back.
pub async fn forward_request(
    state: &GatewayState,
    backend: &Backend,
    peer: &PeerIp,
    request: Request,
    caller: Caller,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    remove_hop_by_hop(&mut parts.headers);
    // The client's `Host` goes on as `X-Forwarded-Host`; the call itself carries the
    // backend's (see `Caller::send`).
    add_forwarded(&mut parts.headers, peer);
    shared::http::inject_trace_context(&mut parts.headers);

    if let Some(ttl) = state.cache.route_ttl(&parts.method, target.path())
        && !Directives::of(&parts.headers).no_store
    {
        let request = cached::CachedRequest {
            backend: backend.clone(),
            head: parts.method == Method::HEAD,
            target,
            headers: parts.headers,
            user: caller.claims().map(|claims| claims.sub),
            ttl,
            started: Instant::now(),
        };
        // Boxed: the cache's future is large, and uncached requests need not carry it.
        return Box::pin(cached::serve(state, request)).await;
    }

    let method = parts.method;
    let body = if !is_idempotent(&method, &parts.headers) {
        OutboundBody::Streaming(body)
    } else if body.is_end_stream() {
        OutboundBody::Replayable(Bytes::new())
    } else {
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => OutboundBody::Replayable(bytes),
            Err(err) if over_limit(&err) => return crate::edge::too_large(state.body_limit),
            Err(_) => return body_refused(),
        }
    };
    let outbound = Outbound {
        method: method.clone(),
        target: target.clone(),
        headers: parts.headers,
        body,
    };
    let mut response = match state.caller.send(backend, outbound).await {
        Ok(response) => relay(response),
        Err(failure) => failure.into_response(backend.name, state.caller.timeout),
    };
    let write = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if write && response.status().is_success() {
        Box::pin(state.cache.invalidate(&method, target.path())).await;
    }
    if matches!(method, Method::GET | Method::HEAD) {
        response
            .headers_mut()
            .insert(X_CACHE, HeaderValue::from_static("BYPASS"));
    }
    response
}

/// A backend's response, streamed on with its hop-by-hop headers removed.
pub fn relay(response: http::Response<PooledBody>) -> Response {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, Body::new(body))
}

/// Whether reading a body failed on the size limit.
fn over_limit(err: &axum::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The answer when the request body could not be read: too long, or cut off.
fn body_refused() -> Response {
    Problem::bad_request(
        "The request body could not be read: it is over the size limit or was cut off.",
    )
    .into_response()
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus any the
/// `Connection` header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over their few names, instead of one lookup for
    // each hop-by-hop name.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
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
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("proxy-connection"),
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// A connection's peer address, as `X-Forwarded-For` names it: written once per connection
/// rather than for each of its requests.
#[derive(Debug, Clone)]
pub struct PeerIp(HeaderValue);

impl PeerIp {
    /// The address of `peer`.
    pub fn of(peer: SocketAddr) -> Self {
        Self(
            HeaderValue::from_str(&peer.ip().to_string())
                .unwrap_or(HeaderValue::from_static("unknown")),
        )
    }
}

/// `X-Forwarded-For` (appended to), `-Host` and `-Proto` (kept when already set).
fn add_forwarded(headers: &mut HeaderMap, peer: &PeerIp) {
    const HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    const PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    // One lookup per header (each hashes its name), where asking first would take two.
    match headers.entry(X_FORWARDED_FOR) {
        Entry::Occupied(mut chain) => {
            let appended = [chain.get().as_bytes(), b", ", peer.0.as_bytes()].concat();
            if let Ok(appended) = HeaderValue::from_bytes(&appended) {
                chain.insert(appended);
            }
        }
        Entry::Vacant(chain) => {
            chain.insert(peer.0.clone());
        }
    }
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.entry(HOST).or_insert(host);
    }
    headers
        .entry(PROTO)
        .or_insert(HeaderValue::from_static("http"));
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
        let peer = PeerIp::of("10.1.2.3:5555".parse().expect("an address"));
        let mut map = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("host", "api.example.com"),
        ]);
        add_forwarded(&mut map, &peer);
        assert_eq!(map["x-forwarded-for"], "203.0.113.7, 10.1.2.3");
        assert_eq!(map["x-forwarded-host"], "api.example.com");
        assert_eq!(map["x-forwarded-proto"], "http");
    }
}
