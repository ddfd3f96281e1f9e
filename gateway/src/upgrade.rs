//! WebSockets through the gateway: the handshake, admitted like any request, is passed on
//! with its `Connection: upgrade` and `Upgrade` kept (forwarding drops them as hop-by-hop),
//! under the backend's breaker; the backend's `101` goes back to the client, and the two
//! connections are spliced until either side closes. Other upgrades (`h2c`) are not passed
//! on: the request is served as a plain one, as RFC 9110 §7.8 allows.

use std::time::Duration;

use axum::{
    body::Body,
    extract::Request,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, Method, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use shared::problem::Problem;

use crate::{
    forwarded::{self, PeerIp},
    state::GatewayState,
};
use gateway_net::{relay::relay, upgrade::splice};
use gateway_upstream::Backend;

/// How long the client's side of an accepted upgrade may take to be handed over.
const HANDOVER: Duration = Duration::from_secs(10);

/// Whether `request` asks for a WebSocket: a GET whose `Upgrade` says `websocket`.
pub fn is_websocket(request: &Request) -> bool {
    request.method() == Method::GET
        && gateway_net::upgrade::requested(request.headers())
            .is_some_and(|protocol| protocol.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Passes the WebSocket handshake `request` (admitted) on to `backend` and, once it has
/// switched protocols, splices the client's connection with the backend's.
pub async fn forward_upgrade(
    state: &GatewayState,
    backend: &Backend,
    peer: &PeerIp,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let Some(client) = parts.extensions.remove::<OnUpgrade>() else {
        // An HTTP/2 request cannot switch protocols with this handshake (RFC 8441's is not
        // offered): a client falls back to HTTP/1.1 for its WebSocket.
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "upgrade-over-http2",
            "WebSocket handshakes go over HTTP/1.1",
        )
        .with_detail("This connection cannot switch protocols: open the WebSocket over HTTP/1.1.")
        .into_response();
    };
    let (target, added) = forwarded::ready(&mut parts, peer, &state.forwarding);
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    parts
        .headers
        .insert(header::UPGRADE, HeaderValue::from_static("websocket"));

    match state
        .call_policy
        .upgrade(backend, &target, parts.headers, added)
        .await
    {
        Ok(mut switched) if switched.status() == StatusCode::SWITCHING_PROTOCOLS => {
            splice(client, &mut switched, HANDOVER);
            // Its `Connection` and `Upgrade` stay: they are the answer.
            let (parts, _) = switched.into_parts();
            Response::from_parts(parts, Body::empty())
        }
        Ok(refused) => relay(refused),
        Err(failure) => failure.into_response(backend.name, state.call_policy.timeout),
    }
}
