//! Why a backend gave no response, and the problem+json the client is answered with.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use shared::{Problem, resilience::BreakerOpen};

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

impl From<BreakerOpen> for Failure {
    /// A call the breaker refused.
    fn from(open: BreakerOpen) -> Self {
        Self::Open {
            retry_after: open.retry_after,
        }
    }
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
