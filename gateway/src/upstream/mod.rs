//! Calling a backend without being taken down by it: each attempt passes its breaker, waits
//! at most the upstream timeout for the response headers, and idempotent requests are retried
//! with exponential backoff and full jitter on retryable failures, within the retry budget
//! and never while the breaker is open.

mod backends;
mod budget;
mod origin;
pub(crate) mod stats;

use std::time::Duration;

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use clap::Args;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header, uri::PathAndQuery,
};
use shared::{
    Problem,
    resilience::{Attempt, BreakerState, RetryPolicy},
};
use smallvec::SmallVec;
use tokio::time::Instant;

use crate::client::{PoolError, PooledBody};

pub use self::{
    backends::{Backend, checks, from_config},
    stats::get_circuit_breakers,
};

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
            Self::RequestBody { too_large: false } => crate::edge::unreadable_body(),
        }
    }
}

/// The rules every backend call follows.
#[derive(Debug, Clone)]
pub struct Caller {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub slow_call: Option<Duration>,
}

impl Caller {
    /// The caller `retry` and `breaker` describe.
    pub fn new(timeout: Duration, retry: &RetryArgs, breaker: &BreakerArgs) -> Self {
        Self {
            timeout,
            retry: RetryPolicy {
                max_attempts: retry.retry_attempts,
                base: retry.retry_base,
                cap: retry.retry_cap,
            },
            slow_call: (!breaker.breaker_slow_call.is_zero()).then_some(breaker.breaker_slow_call),
        }
    }

    /// Sends `outbound` to `backend` through its breaker, retrying when allowed.
    pub async fn send(
        &self,
        backend: &Backend,
        outbound: Outbound,
    ) -> Result<Response<PooledBody>, Failure> {
        let Outbound {
            method,
            target,
            headers,
            mut added,
            body,
        } = outbound;
        let uri = backend.origin.target(&target).ok_or(Failure::Unreachable)?;
        // From the parsed origin, so that the client need not format it per call.
        added.push((header::HOST, backend.origin.host().clone()));
        let mut headers = Some(headers);
        let (replay, mut once) = match body {
            OutboundBody::Replayable(bytes) => (Some(bytes), None),
            OutboundBody::Streaming(body) => (None, Some(body)),
        };
        backend.budget.deposit();
        let (added, replay) = (&added, &replay);
        self.retry
            .run_attempts(|attempt, last| {
                let permit = backend.breaker.try_acquire();
                let body = match (replay, once.take()) {
                    // An empty body is not boxed.
                    (Some(bytes), _) if bytes.is_empty() => Body::empty(),
                    (Some(bytes), _) => Body::from(bytes.clone()),
                    (None, Some(body)) => body,
                    (None, None) => Body::empty(),
                };
                // The headers are copied only while another attempt may need them.
                let headers = if replay.is_none() || last {
                    headers.take().unwrap_or_default()
                } else {
                    headers.clone().unwrap_or_default()
                };
                let mut request = Request::new(body);
                *request.method_mut() = method.clone();
                *request.headers_mut() = headers;
                *request.uri_mut() = uri.clone();
                async move {
                    let permit = match permit {
                        Ok(permit) => permit,
                        Err(open) => {
                            return Attempt::Done(Err(Failure::Open {
                                retry_after: open.retry_after,
                            }));
                        }
                    };
                    let (result, elapsed) = match self.call(backend, request, added).await {
                        Ok(called) => called,
                        // Not the backend's doing: the breaker's permit goes unrecorded.
                        Err(body_failed) => return Attempt::Done(Err(body_failed)),
                    };
                    let slow = self.slow_call.is_some_and(|limit| elapsed > limit);
                    let failed = slow
                        || result
                            .as_ref()
                            .map_or(true, |r| r.status().is_server_error());
                    permit.record(!failed);
                    let may_retry = replay.is_some() && !last;
                    self.judge(backend, result, attempt, may_retry)
                }
            })
            .await
    }

    /// One call to `backend`, bounded by the upstream time-out: its outcome and how long it
    /// took, or the failure to read the client's body (which is not the backend's doing).
    async fn call(
        &self,
        backend: &Backend,
        request: Request<Body>,
        added: &Added,
    ) -> Result<(Result<Response<PooledBody>, Failure>, Duration), Failure> {
        let started = Instant::now();
        let outcome = tokio::time::timeout_at(
            started + self.timeout,
            backend.pool.send_with(request, added),
        )
        .await;
        let calls = &backend.metrics;
        let result = match outcome {
            Ok(Ok(response)) => {
                if response.status().is_server_error() {
                    calls.server_error.increment(1);
                } else {
                    calls.response.increment(1);
                }
                Ok(response)
            }
            Ok(Err(PoolError::Body(err))) => {
                return Err(Failure::RequestBody {
                    too_large: over_limit(&err),
                });
            }
            Ok(Err(err)) => {
                tracing::warn!(service = backend.name, error = %err, "backend unreachable");
                calls.unreachable.increment(1);
                Err(Failure::Unreachable)
            }
            Err(_) => {
                tracing::warn!(service = backend.name, timeout = ?self.timeout, "backend timed out");
                calls.timeout.increment(1);
                Err(Failure::Timeout)
            }
        };
        let elapsed = started.elapsed();
        calls.duration.record(elapsed.as_secs_f64());
        Ok((result, elapsed))
    }

    /// Whether `result` is worth another attempt: a retryable status or no answer, for a
    /// request whose body can be sent again, while attempts, the breaker and the retry
    /// budget allow, and not when the backend asks for a longer pause than the cap.
    fn judge(
        &self,
        backend: &Backend,
        result: Result<Response<PooledBody>, Failure>,
        attempt: u32,
        may_retry: bool,
    ) -> Attempt<Result<Response<PooledBody>, Failure>> {
        let asked = match &result {
            Ok(response) if is_retryable_status(response.status()) => {
                match retry_after(response.headers()) {
                    Some(asked) if asked > self.retry.cap => return Attempt::Done(result),
                    asked => asked.unwrap_or_default(),
                }
            }
            Ok(_) => return Attempt::Done(result),
            Err(_) => Duration::ZERO,
        };
        if !may_retry || backend.breaker.state() == BreakerState::Open {
            return Attempt::Done(result);
        }
        if !backend.budget.try_withdraw() {
            metrics::counter!("gateway_retry_budget_exhausted_total", "service" => backend.name)
                .increment(1);
            return Attempt::Done(result);
        }
        metrics::counter!("gateway_retries_total", "service" => backend.name).increment(1);
        tracing::debug!(service = backend.name, attempt, ?asked, "retrying");
        Attempt::Again {
            outcome: result,
            after: asked,
        }
    }
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

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// A `Retry-After` in seconds (the HTTP-date form is not waited for).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
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

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
