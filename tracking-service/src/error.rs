use axum::{
    extract::ws::rejection::WebSocketUpgradeRejection,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, StatusCode, header};
use shared::{FieldError, Problem};

use crate::store::AppendError;

/// Everything tracking-service's handlers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// The input was read but is invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// No tracked delivery that the caller may see.
    #[error("delivery not found")]
    NotFound,
    /// The event does not fit the delivery's state.
    #[error("{0}")]
    Refused(String),
    /// Another writer appended first.
    #[error("stale version: expected {expected}, the stream is at {actual}")]
    Stale { expected: i32, actual: i32 },
    /// The caller holds as many live streams as allowed.
    #[error("too many live streams")]
    TooManyStreams,
    /// A request to a WebSocket endpoint that is not a WebSocket handshake, or a broken one.
    #[error("not a WebSocket handshake: {0}")]
    Handshake(#[from] WebSocketUpgradeRejection),
    /// A problem decided elsewhere (authentication, permission).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// The database failed; logged, opaque to the client.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<Problem> for TrackingError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl From<AppendError> for TrackingError {
    fn from(err: AppendError) -> Self {
        match err {
            AppendError::Stale { expected, actual } => Self::Stale { expected, actual },
            AppendError::Database(err) => Self::Database(err),
        }
    }
}

impl IntoResponse for TrackingError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::NotFound => Problem::not_found("No tracked delivery of that id."),
            Self::Refused(detail) => {
                Problem::new(StatusCode::CONFLICT, "illegal-transition", "Illegal event")
                    .with_detail(detail)
            }
            Self::Stale { expected, actual } => Problem::new(
                StatusCode::CONFLICT,
                "stale-version",
                "Stale version",
            )
            .with_detail(format!(
                "Expected version {expected}, but the delivery is at {actual}; reload and retry."
            ))
            .with_extension("current_version", actual),
            Self::TooManyStreams => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-streams",
                "Too many live streams",
            )
            .with_detail("Close one of your live streams before opening another."),
            Self::Handshake(rejection) => handshake_problem(&rejection),
            Self::Problem(problem) => problem,
            Self::Database(err) => {
                tracing::error!(error = %err, "tracking store failed");
                Problem::internal()
            }
        }
        .into_response()
    }
}

/// axum's refusal of a handshake, as problem+json naming what is missing. A request that
/// does not ask for a WebSocket at all gets 426 with `Upgrade: websocket` (RFC 9110), and one
/// of another protocol version 426 with `Sec-WebSocket-Version: 13` (RFC 6455); a handshake
/// missing a part of its own stays 400.
fn handshake_problem(rejection: &WebSocketUpgradeRejection) -> Problem {
    use WebSocketUpgradeRejection::{
        InvalidConnectionHeader, InvalidUpgradeHeader, InvalidWebSocketVersionHeader,
    };
    let (status, headers): (_, &[_]) = match rejection {
        InvalidConnectionHeader(_) | InvalidUpgradeHeader(_) => (
            StatusCode::UPGRADE_REQUIRED,
            &[
                (header::UPGRADE, "websocket"),
                (header::CONNECTION, "upgrade"),
            ],
        ),
        InvalidWebSocketVersionHeader(_) => (
            StatusCode::UPGRADE_REQUIRED,
            &[(header::SEC_WEBSOCKET_VERSION, "13")],
        ),
        _ => (rejection.status(), &[]),
    };
    let detail = format!("This endpoint is a WebSocket: {}.", rejection.body_text());
    let mut problem = Problem::new(
        status,
        "websocket-handshake",
        "WebSocket handshake required",
    )
    .with_detail(detail);
    for (name, value) in headers {
        problem = problem.with_header(name.clone(), HeaderValue::from_static(value));
    }
    problem
}
