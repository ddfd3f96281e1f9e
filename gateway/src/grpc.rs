//! gRPC through the gateway: a call under a configured service's path, admitted like any
//! request (token, rate limit), is sent on over the backend's HTTP/2 connection with its
//! body streaming and its trailers kept. A call the gateway answers itself (refused,
//! undelivered) is answered as gRPC clients understand, trailers-only with a `grpc-status`
//! (as Envoy does for its local replies to gRPC calls): a problem document would reach the
//! client as an unreadable message.

use axum::{body::Body, extract::Request, response::Response};
use http::{HeaderValue, StatusCode, header};

use crate::{
    forwarded::{self, PeerIp},
    state::GatewayState,
};
use gateway_net::{multiplexed::Multiplexed, relay::relay};
use gateway_upstream::Backend;

/// Sends the gRPC call `request` (admitted) on to `backend` over `multiplexed`, its
/// connection, and streams its answer back. A call not delivered is answered as any
/// request's failure, which the dispatcher turns into its gRPC status ([`as_grpc_status`]).
pub async fn forward_call(
    state: &GatewayState,
    backend: &Backend,
    multiplexed: &Multiplexed,
    peer: &PeerIp,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let (target, added) = forwarded::ready(&mut parts, peer, &state.forwarding);
    match state
        .call_policy
        .send_grpc(backend, multiplexed, &target, parts.headers, added, body)
        .await
    {
        Ok(answer) => relay(answer),
        Err(failure) => failure.into_response(backend.name, state.call_policy.timeout),
    }
}

/// Whether `headers` are a gRPC call's (`application/grpc`, `application/grpc+proto`...).
pub fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// The gateway's own answer to a gRPC call (a refusal, a time-out) as a gRPC status,
/// trailers-only: its HTTP status mapped as gRPC's HTTP mapping does, its problem's detail
/// as the message, its other headers (`Retry-After`, the rate limit's) kept. A backend's
/// gRPC answer passes unchanged.
pub async fn as_grpc_status(response: Response) -> Response {
    if is_grpc(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let code = match parts.status {
        StatusCode::BAD_REQUEST => "3",
        StatusCode::UNAUTHORIZED => "16",
        StatusCode::FORBIDDEN => "7",
        StatusCode::NOT_FOUND => "12",
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => "8",
        StatusCode::GATEWAY_TIMEOUT => "4",
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => "14",
        _ => "2",
    };
    let problem = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&problem)
        .ok()
        .and_then(|problem| {
            let text = problem.get("detail").or_else(|| problem.get("title"))?;
            text.as_str().map(str::to_owned)
        })
        .unwrap_or_else(|| parts.status.to_string());
    parts.status = StatusCode::OK;
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut response = Response::from_parts(parts, Body::empty());
    set_status(&mut response, code, &message);
    response
}

fn set_status(response: &mut Response, code: &'static str, message: &str) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from_static(code));
    if let Ok(message) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", message);
    }
}

/// `grpc-message` is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").
fn percent_encode(message: &str) -> String {
    percent_encoding::utf8_percent_encode(message, &GRPC_MESSAGE).to_string()
}

/// Everything but printable ASCII, and `%` itself.
const GRPC_MESSAGE: percent_encoding::AsciiSet = percent_encoding::CONTROLS.add(b'%');
