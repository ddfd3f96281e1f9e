use axum::response::{IntoResponse, Response};
use http::StatusCode;
use shared::{FieldError, Problem};

/// Everything payment-service's handlers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The input was read but is invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The `Idempotency-Key` header is missing or malformed.
    #[error("bad idempotency key")]
    IdempotencyKey(&'static str),
    /// The key was used before for a different request.
    #[error("idempotency key reused")]
    KeyReused,
    /// No payment for that order is visible to the caller.
    #[error("payment not found")]
    NotFound,
    /// The payment is not in a state that allows the operation.
    #[error("{0}")]
    Conflict(String),
    /// A problem decided elsewhere (authentication, permission).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// The database failed; logged, opaque to the client.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<Problem> for PaymentError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl IntoResponse for PaymentError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::IdempotencyKey(detail) => Problem::bad_request(detail)
                .with_errors(vec![FieldError::new("Idempotency-Key", detail)]),
            Self::KeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            )
            .with_detail("This Idempotency-Key was used for a different request."),
            Self::NotFound => Problem::not_found("No payment for that order."),
            Self::Conflict(detail) => Problem::conflict(detail),
            Self::Problem(problem) => problem,
            Self::Database(err) => {
                tracing::error!(error = %err, "payment store failed");
                if matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) {
                    Problem::unavailable("The payment store cannot be reached; try again shortly.")
                } else {
                    Problem::internal()
                }
            }
        }
        .into_response()
    }
}
