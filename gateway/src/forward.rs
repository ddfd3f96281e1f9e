//! Forwarding one request to its backend: hop-by-hop headers are dropped, `X-Forwarded-*`
//! added, the request id and trace context passed on; GETs go through the cache, writes
//! invalidate it, and every call passes the backend's breaker and retry rules.

use std::time::Instant;

use axum::{body::HttpBody as _, extract::Request, response::Response};
use bytes::Bytes;
use gateway_http_cache::{Directives, invalidation};
use gateway_net::relay::relay;
use http::{HeaderValue, Method, header};

use crate::{
    access::Caller,
    cache::{self, X_CACHE},
    cookies, experiment,
    forwarded::{self, PeerIp, forwarding},
    grpc,
    state::GatewayState,
    upgrade,
};
use gateway_upstream::{Backend, Failure, Outbound, OutboundBody, is_idempotent, over_limit};

/// Sends `request` (admitted) to `backend`, or answers it from the cache, and streams the
/// answer back.
pub async fn forward_request(
    state: &GatewayState,
    backend: &Backend,
    peer: &PeerIp,
    request: Request,
    caller: Caller,
) -> Response {
    if upgrade::is_websocket(&request) {
        return upgrade::forward_upgrade(state, backend, peer, request).await;
    }
    if let Some(multiplexed) = &backend.multiplexed {
        return grpc::forward_call(state, backend, multiplexed, peer, request).await;
    }
    let (mut parts, body) = request.into_parts();
    let target = forwarded::target_of(&parts.uri);
    let host = parts.headers.get(header::HOST).cloned();
    let added = forwarding(&mut parts.headers, peer, &state.forwarding);
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
    cookies::strip_own(&mut parts.headers);

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
        let request = cache::CachedRequest {
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
        return gateway_net::boxed::in_place(|| cache::serve(&state.cache, request)).await;
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
    let mut response = match state.call_policy.send(backend, outbound).await {
        Ok(response) => relay(response),
        Err(Failure::RequestBody { too_large }) => return body_refused(state, too_large),
        Err(failure) => failure.into_response(backend.name, state.call_policy.timeout),
    };
    if invalidation::invalidates(&method, response.status()) {
        let named = invalidation::named_paths(response.headers(), host.as_ref());
        gateway_net::boxed::in_place(|| async {
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

/// The answer when the request body could not be read: 413 naming the limit when it was
/// over it, else (cut off, say) 400.
fn body_refused(state: &GatewayState, too_large: bool) -> Response {
    if too_large {
        crate::guards::too_large(state.body_limit)
    } else {
        gateway_upstream::unreadable_body()
    }
}
