use axum::response::{IntoResponse, Response};
use http::StatusCode;
use shared::{FieldError, Problem};

/// Everything delivery-service's handlers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The input was read but is invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// Nothing of that id that the caller may see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The state does not allow it (an illegal status change, a profile that exists).
    #[error("{0}")]
    Conflict(String),
    /// The shipment waits for the order's payment to be confirmed before it may be picked up.
    #[error("shipment held")]
    Held,
    /// A problem decided elsewhere (authentication, permission).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// The database failed; logged, opaque to the client.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<Problem> for DeliveryError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl DeliveryError {
    /// 403 for someone who is not the shipment's courier.
    pub fn not_assigned() -> Self {
        Self::Problem(
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                .with_detail("Only the courier assigned to this delivery may update it."),
        )
    }
}

impl IntoResponse for DeliveryError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::NotFound(what) => Problem::not_found(format!("No such {what}.")),
            Self::Conflict(detail) => Problem::conflict(detail),
            Self::Held => Problem::new(StatusCode::CONFLICT, "shipment-held", "Shipment held")
                .with_detail(
                    "The order's payment is not confirmed yet: its shipment is held until then.",
                ),
            Self::Problem(problem) => problem,
            Self::Database(err) => {
                tracing::error!(error = %err, "delivery store failed");
                if matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) {
                    Problem::unavailable("The delivery store cannot be reached; try again shortly.")
                } else {
                    Problem::internal()
                }
            }
        }
        .into_response()
    }
}
