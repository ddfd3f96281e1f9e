//! The gateway's order of work before a request reaches its route, in one step: the
//! concurrency limit (503 when full), the body limit (413), caller identification, the rate
//! limit (429), the route policy (401, 403); then the route; then the `RateLimit-*` headers
//! on whatever the answer is. [`finish`] then adds the security headers and records the
//! request's metrics (in place of the standard tracking layer). The gateway's own routes run
//! both as a middleware; the proxy path runs them inline, `finish` outside its timeout, so
//! that an answer the timeout or the panic catcher gives is finished too.
//!
//! One step rather than one layer per step: axum clones every layer's service and boxes its
//! future for every request; on the proxy path, folding seven layers into one took a sixth
//! off the gateway's CPU time per request.

use std::{net::SocketAddr, time::Duration};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;
use tokio::time::Instant;

use crate::{
    access::{self, Caller},
    guards,
    state::GatewayState,
};

/// Admits `request` in the gateway's order of work, then runs its route: the middleware of
/// the gateway's own routes.
pub async fn admit_request(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = admit_then(&state, peer, request, |request, _| next.run(request)).await;
    let template = matched.as_ref().map(MatchedPath::as_str);
    finish(&mut response, template, &method, started.elapsed());
    response
}

/// Admits `request` in the gateway's order of work, then answers it with `route`, given the
/// caller it identified. The proxy path calls it inline rather than through the middleware.
pub async fn admit_then(
    state: &GatewayState,
    peer: SocketAddr,
    request: Request,
    route: impl AsyncFnOnce(Request, Caller) -> Response,
) -> Response {
    match state.in_flight.try_enter() {
        Some(_slot) => admit(state, peer, request, route).await,
        None => guards::overloaded(),
    }
}

/// What every answer gets on its way out: the security headers, and its request counted
/// under the route `template`, `elapsed` after it came.
pub fn finish(response: &mut Response, template: Option<&str>, method: &Method, elapsed: Duration) {
    guards::add_security_headers(response.headers_mut());
    shared::metrics::record_request(template, method, response.status(), elapsed);
}

async fn admit(
    state: &GatewayState,
    peer: SocketAddr,
    request: Request,
    route: impl AsyncFnOnce(Request, Caller) -> Response,
) -> Response {
    if let Some(oversized) = guards::refuse_oversized(request.headers(), state.body_limit) {
        return oversized;
    }
    let request = guards::limit_body(request, state.body_limit);
    let caller = access::identify(&state.access, request.headers()).await;
    let (method, path) = (request.method(), request.uri().path());
    let client = state.forwarding.client(request.headers(), peer.ip());
    let verdict = state.limiter.count(method, path, &caller, client).await;
    let refused = match verdict.as_ref().and_then(|verdict| verdict.refusal()) {
        Some(over_quota) => {
            state.limiter.count_refusal();
            Some(over_quota)
        }
        None => access::refusal_of(&state.access, method, path, &caller),
    };
    let mut response = match refused {
        Some(refused) => refused,
        None => route(request, caller).await,
    };
    if let Some(verdict) = verdict {
        verdict.add_headers(response.headers_mut());
    }
    response
}
