use axum::response::{IntoResponse, Response};
use http::StatusCode;
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
            Self::Problem(problem) => problem,
            Self::Database(err) => {
                tracing::error!(error = %err, "tracking store failed");
                Problem::internal()
            }
        }
        .into_response()
    }
}
