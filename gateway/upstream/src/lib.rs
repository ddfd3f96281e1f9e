//! gateway-upstream: calling a backend without being taken down by it.
//!
//! Each service behind the gateway is a [`Backend`]: its path prefix, its instances and the
//! choice between them (`balance`: latency-aware, outliers ejected), its circuit breaker and
//! its retry budget. A [`CallPolicy`] makes one call: each attempt passes the breaker and
//! waits at most the upstream timeout for the response headers; idempotent requests are
//! retried with exponential backoff and full jitter on retryable failures, within the budget
//! and never while the breaker is open. [`probe`] holds the calls off that path (readiness).
//!
//! Its neighbours: it stands on `gateway-net` (the client and pool it calls through) and
//! `shared`; the `gateway` crate above routes requests to it, and its control plane
//! (discovery, deployments, experiments) steers the instances it chooses among.

mod backends;
mod balance;
mod budget;
mod call_policy;
mod endpoint;
mod origin;
mod outlier;
pub mod probe;
mod stats;

use std::time::Duration;

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, uri::PathAndQuery};
use shared::Problem;
use smallvec::SmallVec;

pub use self::{
    backends::{Backend, UpstreamArgs, checks, from_args},
    call_policy::CallPolicy,
    endpoint::{CallRecord, Endpoint, EndpointHealth, latency_histogram},
    outlier::OutlierArgs,
    stats::{BreakerTable, breaker_table, get_circuit_breakers},
};
pub use self::{balance::Selector, budget::BudgetUsage};

/// When a backend's breaker opens and how it recovers.
#[derive(Debug, Clone, Args)]
pub struct BreakerArgs {
    /// Share of failed calls in the window, in percent, that opens a backend's breaker.
    #[arg(long, env = "BREAKER_FAILURE_RATE", default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub breaker_failure_rate: u8,
    /// How far back calls count towards the failure rate.
    #[arg(long, env = "BREAKER_WINDOW", default_value = "10s", value_parser = humantime::parse_duration)]
    pub breaker_window: Duration,
    /// Fewest calls in the window before the breaker may open.
    #[arg(long, env = "BREAKER_MINIMUM_CALLS", default_value_t = 5)]
    pub breaker_minimum_calls: usize,
    /// How long an open breaker refuses calls before letting trial calls through.
    #[arg(long, env = "BREAKER_OPEN_FOR", default_value = "30s", value_parser = humantime::parse_duration)]
    pub breaker_open_for: Duration,
    /// Trial calls let through while half-open.
    #[arg(long, env = "BREAKER_HALF_OPEN_CALLS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_half_open_calls: u32,
    /// Calls slower than this count as failures (`0s`: none do).
    #[arg(long, env = "BREAKER_SLOW_CALL", default_value = "0s", value_parser = humantime::parse_duration)]
    pub breaker_slow_call: Duration,
}

/// How idempotent requests are retried.
#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    /// Attempts in all for an idempotent request, the first included (1: no retries).
    #[arg(long, env = "RETRY_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub retry_attempts: u32,
    /// Ceiling of the first backoff; each next one doubles, with full jitter.
    #[arg(long, env = "RETRY_BASE", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub retry_base: Duration,
    /// Largest backoff; a `Retry-After` longer than this is not waited for.
    #[arg(long, env = "RETRY_CAP", default_value = "2s", value_parser = humantime::parse_duration)]
    pub retry_cap: Duration,
    /// Retries allowed per backend, in percent of its requests over the last 10 s.
    #[arg(long, env = "RETRY_BUDGET", default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub retry_budget: u8,
    /// Retries per backend allowed over 10 s whatever the traffic.
    #[arg(long, env = "RETRY_BUDGET_FLOOR", default_value_t = 10)]
    pub retry_budget_floor: u32,
}

/// A request on its way to a backend.
#[derive(Debug)]
pub struct Outbound {
    pub method: Method,
    /// Path and query, as received.
    pub target: PathAndQuery,
    pub headers: HeaderMap,
    /// Fields written after `headers`, in place of any of the same name.
    pub added: Added,
    pub body: OutboundBody,
    /// The instances it may go to (an experiment's variant); any routed one if `None`.
    pub only: Option<Selector>,
}

/// Header fields the gateway adds to a forwarded request (`X-Forwarded-*`, the backend's
/// `Host`), written after the client's own rather than inserted among them.
pub type Added = SmallVec<[(HeaderName, HeaderValue); 4]>;

/// A body that can be sent again (so the request may be retried), or one that streams once.
#[derive(Debug)]
pub enum OutboundBody {
    Replayable(Bytes),
    Streaming(Body),
}

/// Why no response came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The breaker refused the call.
    #[error("circuit open")]
    Open { retry_after: Duration },
    /// No connection, or it broke.
    #[error("unreachable")]
    Unreachable,
    /// No response headers within the upstream timeout.
    #[error("timeout")]
    Timeout,
    /// The client's own body failed as it was sent on: over the size limit, or cut off. It
    /// says nothing of the backend.
    #[error("request body refused")]
    RequestBody { too_large: bool },
}

impl Failure {
    /// The problem+json answer naming `backend`.
    pub fn into_response(self, backend: &str, timeout: Duration) -> Response {
        match self {
            Self::Open { retry_after } => {
                let seconds = whole_seconds(retry_after);
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "circuit-open",
                    "Service unavailable",
                )
                .with_detail(format!(
                    "{backend} is failing; calls to it are paused for {seconds} s."
                ))
                .with_extension("service", backend)
                .with_header(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
                .into_response()
            }
            Self::Unreachable => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-unreachable",
                "Bad gateway",
            )
            .with_detail(format!("{backend} could not be reached."))
            .with_extension("service", backend)
            .into_response(),
            Self::Timeout => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Gateway timeout",
            )
            .with_detail(format!(
                "{backend} did not answer within {}.",
                humantime::format_duration(timeout)
            ))
            .with_extension("service", backend)
            .into_response(),
            Self::RequestBody { too_large: true } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            )
            .with_detail("The request body is over the size limit.")
            .into_response(),
            Self::RequestBody { too_large: false } => unreadable_body(),
        }
    }
}

/// The 400 problem for a body that could not be read whole (cut off, say).
pub fn unreadable_body() -> Response {
    Problem::bad_request(
        "The request body could not be read: it is over the size limit or was cut off.",
    )
    .into_response()
}

/// Seconds, rounded up: a client told 0 would come back at once and be refused again.
pub fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Whether reading a body failed on the size limit.
pub fn over_limit(err: &axum::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Whether `method` (or an `Idempotency-Key`) makes a request safe to send twice.
pub fn is_idempotent(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    ) || headers.contains_key("idempotency-key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_methods_and_keyed_requests_may_be_retried() {
        let none = HeaderMap::new();
        assert!(is_idempotent(&Method::GET, &none));
        assert!(is_idempotent(&Method::DELETE, &none));
        assert!(!is_idempotent(&Method::POST, &none));
        let mut keyed = HeaderMap::new();
        keyed.insert("idempotency-key", HeaderValue::from_static("k1"));
        assert!(is_idempotent(&Method::POST, &keyed));
    }
}
