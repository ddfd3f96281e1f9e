//! Forwarding one request to its backend: hop-by-hop headers are dropped, `X-Forwarded-*`
//! added, the request id and trace context passed on; GETs go through the cache, writes
//! invalidate it, and every call passes the backend's breaker and retry rules.

use std::{net::SocketAddr, time::Instant};

use crate::client::PooledBody;
use axum::{
    body::{Body, HttpBody as _},
    extract::Request,
    response::Response,
};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header, uri::PathAndQuery};

use shared::forwarded::X_FORWARDED_FOR;

use crate::{
    access::Caller,
    cache::{Directives, invalidation},
    cached, experiment,
    state::GatewayState,
    upstream::{Added, Backend, Failure, Outbound, OutboundBody, is_idempotent, over_limit},
};

/// The `X-Cache` header.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

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
    let host = parts.headers.get(header::HOST).cloned();
    let added = forwarding(&mut parts.headers, peer);
    shared::http::inject_trace_context(&mut parts.headers);
    // An experiment's route is not cached: each variant answers its own users.
    let (assignment, subject) = if state.experiments.active() {
        (
            state
                .experiments
                .assign(target.path(), &caller, &parts.headers),
            experiment::subject_of(&caller, &parts.headers),
        )
    } else {
        (None, None)
    };

    // Read only on cached routes: the directives are not parsed on the plain proxy path.
    if assignment.is_none()
        && let Some(route) = state.cache.route(&parts.method, target.path())
        && let asked = Directives::of(&parts.headers)
        && !asked.no_store
    {
        let head = parts.method == Method::HEAD;
        if head {
            // A range is for GET only (RFC 9110 §14.2).
            parts.headers.remove(header::RANGE);
        }
        let request = cached::CachedRequest {
            backend: backend.clone(),
            head,
            target,
            headers: parts.headers,
            asked,
            added,
            user: caller.claims().map(|claims| claims.sub),
            forced: route.forced,
            started: Instant::now(),
        };
        // Boxed: the cache's future is large, and uncached requests need not carry it.
        return crate::boxed::in_place(|| cached::serve(state, request)).await;
    }

    let method = parts.method;
    let body = if !is_idempotent(&method, &parts.headers) {
        OutboundBody::Streaming(body)
    } else if body.is_end_stream() {
        OutboundBody::Replayable(Bytes::new())
    } else {
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => OutboundBody::Replayable(bytes),
            Err(err) => return body_refused(state, over_limit(&err)),
        }
    };
    let outbound = Outbound {
        method: method.clone(),
        target: target.clone(),
        headers: parts.headers,
        added,
        body,
        only: assignment
            .as_ref()
            .map(|assignment| assignment.instances().clone()),
    };
    let mut response = match state.caller.send(backend, outbound).await {
        Ok(response) => relay(response),
        Err(Failure::RequestBody { too_large }) => return body_refused(state, too_large),
        Err(failure) => failure.into_response(backend.name, state.caller.timeout),
    };
    if invalidation::invalidates(&method, response.status()) {
        let named = invalidation::named_paths(response.headers(), host.as_ref());
        crate::boxed::in_place(|| async {
            state.cache.invalidate(&method, target.path()).await;
            for path in &named {
                state.cache.invalidate(&Method::PUT, path).await;
            }
        })
        .await;
    }
    if matches!(method, Method::GET | Method::HEAD) {
        response
            .headers_mut()
            .insert(X_CACHE, HeaderValue::from_static("BYPASS"));
    }
    if let Some(assignment) = assignment {
        state.experiments.finish(assignment, &mut response);
    }
    if state.experiments.active() {
        state.experiments.observe(
            &method,
            target.path(),
            response.status(),
            subject.as_deref(),
        );
    }
    response
}

/// A backend's response, streamed on with its hop-by-hop headers removed.
pub fn relay(response: http::Response<PooledBody>) -> Response {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, Body::new(body))
}

/// The answer when the request body could not be read: 413 naming the limit when it was
/// over it, else (cut off, say) 400.
fn body_refused(state: &GatewayState, too_large: bool) -> Response {
    if too_large {
        crate::edge::too_large(state.body_limit)
    } else {
        crate::edge::unreadable_body()
    }
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
    let hop_by_hop: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name))
        .cloned()
        .collect();
    for name in hop_by_hop {
        headers.remove(name);
    }
}

/// The hop-by-hop names themselves.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    // Spelled out, so that each standard name is a cheap comparison of its index.
    *name == header::CONNECTION
        || *name == header::PROXY_AUTHENTICATE
        || *name == header::PROXY_AUTHORIZATION
        || *name == header::TE
        || *name == header::TRAILER
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
        || matches!(name.as_str(), "keep-alive" | "proxy-connection")
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

/// Readies `headers` to be forwarded: removes their hop-by-hop fields, and says what goes
/// on after them: `X-Forwarded-For` appended to, `-Host` (the client's `Host`; the call
/// carries the backend's, see `Caller::send`) and `-Proto` unless already set.
///
/// One pass over the fields, where looking each name up would hash it, and the additions
/// written after the fields rather than inserted among them (see `OriginPool::send_with`).
fn forwarding(headers: &mut HeaderMap, peer: &PeerIp) -> Added {
    let mut seen = Seen::of(headers);
    if seen.hop_by_hop {
        remove_hop_by_hop(headers);
        seen = Seen::of(headers);
    }
    let mut added = Added::new();
    let chain = match seen.chains {
        0 => peer.0.clone(),
        // As many proxies as fields: their values, in order, then the peer.
        _ => {
            let mut chain = Vec::new();
            for hop in headers.get_all(X_FORWARDED_FOR) {
                chain.extend_from_slice(hop.as_bytes());
                chain.extend_from_slice(b", ");
            }
            chain.extend_from_slice(peer.0.as_bytes());
            HeaderValue::from_bytes(&chain).unwrap_or_else(|_| peer.0.clone())
        }
    };
    added.push((X_FORWARDED_FOR, chain));
    if !seen.forwarded_host
        && let Some(host) = headers.get(header::HOST)
    {
        added.push((X_FORWARDED_HOST, host.clone()));
    }
    if !seen.forwarded_proto {
        added.push((X_FORWARDED_PROTO, HeaderValue::from_static("http")));
    }
    added
}

/// What one pass over a request's header fields finds.
#[derive(Debug, Default)]
struct Seen {
    hop_by_hop: bool,
    /// `X-Forwarded-For` fields.
    chains: usize,
    forwarded_host: bool,
    forwarded_proto: bool,
}

impl Seen {
    fn of(headers: &HeaderMap) -> Self {
        let mut seen = Self::default();
        // By their text: comparing with a `HeaderName` constant builds and drops one.
        for name in headers.keys() {
            match name.as_str() {
                "x-forwarded-for" => seen.chains = headers.get_all(name).iter().count(),
                "x-forwarded-host" => seen.forwarded_host = true,
                "x-forwarded-proto" => seen.forwarded_proto = true,
                _ => seen.hop_by_hop |= is_hop_by_hop(name),
            }
        }
        seen
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
        let peer = PeerIp::of("10.1.2.3:5555".parse().expect("an address"));
        let added = |pairs: &[(&str, &str)]| {
            let mut map = headers(pairs);
            let added = forwarding(&mut map, &peer);
            added
                .iter()
                .map(|(name, value)| format!("{name}: {}", value.to_str().expect("text")))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            added(&[("host", "api.example.com")]),
            [
                "x-forwarded-for: 10.1.2.3",
                "x-forwarded-host: api.example.com",
                "x-forwarded-proto: http"
            ]
        );
        assert_eq!(
            added(&[
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-host", "shop.example.com"),
                ("x-forwarded-proto", "https"),
                ("host", "api.example.com"),
            ]),
            ["x-forwarded-for: 203.0.113.7, 10.1.2.3"]
        );
    }

    #[test]
    fn a_forwarded_field_the_connection_header_names_is_not_believed() {
        let peer = PeerIp::of("10.1.2.3:5555".parse().expect("an address"));
        let mut map = headers(&[
            ("connection", "x-forwarded-for"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        let added = forwarding(&mut map, &peer);
        assert!(!map.contains_key("x-forwarded-for"));
        assert_eq!(added[0].1, "10.1.2.3");
    }
}
