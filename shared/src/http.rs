//! The middleware every binary wraps its router in, and the problem+json fallbacks.

use std::{any::Any, time::Duration};

use axum::{
    BoxError, Router,
    error_handling::HandleErrorLayer,
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use opentelemetry::propagation::{Extractor, Injector};
use tower::{ServiceBuilder, timeout::TimeoutLayer};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing::{Level, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::problem::Problem;

/// The header that carries the request id end to end.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in the standard stack, outermost first: request id, trace span (joined to
/// an incoming `traceparent`), panic catcher, request timeout. Every error it produces
/// itself is problem+json.
///
/// The stack wraps the router as one service instead of through `Router::layer`, which
/// boxes and clones each layer for each route on every request.
pub fn standard_layers(router: Router, request_timeout: Duration) -> Router {
    Router::new().fallback_service(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuidV7))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(log_response)
                    // The access line already carries the status; handlers log their own
                    // internal errors once, so a 5xx is not logged again as an error.
                    .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(CatchPanicLayer::custom(panic_to_problem))
            .layer(HandleErrorLayer::new(timeout_to_problem))
            .layer(TimeoutLayer::new(request_timeout))
            .service(router),
    )
}

/// Marks a response `Cache-Control: no-store` unless it says otherwise: for resources that
/// change on their own (an order moved by its saga, a shipment by its courier), which no
/// shared cache may keep. Use with `axum::middleware::map_response`.
pub async fn not_stored(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Answers 404 problem+json for a path no route matches.
pub async fn not_found(uri: Uri) -> Problem {
    Problem::not_found(format!("No resource is at {}.", uri.path()))
}

/// Answers 405 problem+json for a known path with another method.
pub async fn method_not_allowed(request: Request) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    )
    .with_detail(format!(
        "{} is not allowed on {}.",
        request.method(),
        request.uri().path()
    ))
}

/// Request ids are UUIDv7, like every other id of the platform, so they sort by time.
#[derive(Debug, Clone, Copy)]
struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        Some(RequestId::new(new_request_id()))
    }
}

/// A fresh request id: a UUIDv7 of the current millisecond and 74 random bits.
///
/// Built from its parts rather than with `Uuid::now_v7`, whose counter, kept so that ids of
/// one process sort strictly, takes a lock on every call; request ids need only be unique,
/// not unguessable, so their bits come from a fast generator of each thread's, seeded from
/// the system's.
pub fn new_request_id() -> HeaderValue {
    use rand::{Rng as _, SeedableRng as _, rngs::SmallRng};
    thread_local! {
        static IDS: std::cell::RefCell<SmallRng> = std::cell::RefCell::new(SmallRng::from_entropy());
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let random: [u8; 10] = IDS.with_borrow_mut(|ids| ids.r#gen());
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or(HeaderValue::from_static("-"))
}

/// The request's id, given one first if it came without: what the standard layers' request
/// id layer does, for a path served without them.
pub fn ensure_request_id(headers: &mut http::HeaderMap) -> HeaderValue {
    headers
        .entry(REQUEST_ID)
        .or_insert_with(new_request_id)
        .clone()
}

/// The span of one request, joined to the trace its `traceparent` names.
pub fn request_span<B>(request: &http::Request<B>) -> Span {
    // The fields are written only when the span is enabled.
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default(),
        otel.kind = "server",
        status = Empty,
    );
    if span.is_disabled() {
        // Filtered out: there is nothing to join to a trace.
        return span;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

/// The access line of an answered request, as the standard layers' trace layer writes it.
pub fn log_answer(status: StatusCode, latency: Duration) {
    tracing::info!(
        latency = %format_args!("{} ms", latency.as_millis()),
        status = status.as_u16(),
        "finished processing request"
    );
}

fn log_response<B>(response: &http::Response<B>, latency: Duration, _: &Span) {
    log_answer(response.status(), latency);
}

/// The 500 answer to a handler that panicked, the panic logged.
pub fn panic_to_problem(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "handler panicked");
    Problem::internal().into_response()
}

/// The answer to a request that ran out of time.
pub fn timed_out() -> Problem {
    Problem::unavailable("The request took longer than this service allows.")
}

async fn timeout_to_problem(err: BoxError) -> Problem {
    if err.is::<tower::timeout::error::Elapsed>() {
        timed_out()
    } else {
        tracing::error!(error = %err, "middleware failed");
        Problem::internal()
    }
}

/// Reads W3C trace context from HTTP headers.
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

impl std::fmt::Debug for HeaderExtractor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HeaderExtractor").finish()
    }
}

/// Writes W3C trace context into HTTP headers.
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Puts the current span's trace context on an outgoing request, so the callee's spans join
/// this trace. Without an exporter there is no valid span context and nothing is written,
/// which leaves a `traceparent` the request already carried untouched.
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

impl std::fmt::Debug for HeaderInjector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HeaderInjector").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_uuid_v7s_of_the_current_millisecond() {
        let before = std::time::SystemTime::now();
        let ids: Vec<uuid::Uuid> = (0..100)
            .map(|_| {
                let id = new_request_id();
                uuid::Uuid::parse_str(id.to_str().expect("text")).expect("a UUID")
            })
            .collect();
        let after = std::time::SystemTime::now();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            assert_eq!(id.get_version_num(), 7);
            let (seconds, nanos) = id.get_timestamp().expect("a timestamp").to_unix();
            let at = std::time::UNIX_EPOCH + Duration::new(seconds, nanos);
            let millisecond = Duration::from_millis(1);
            assert!(
                at + millisecond >= before && at <= after,
                "{id} is not of now"
            );
        }
    }
}
