use axum::response::{IntoResponse, Response};
use http::StatusCode;
use shared::{FieldError, Problem};

use crate::store::StoreError;

/// Everything restaurant-service's handlers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RestaurantError {
    /// The input was read but is invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// No restaurant (or menu item) of that id.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not change this restaurant.
    #[error("forbidden")]
    Forbidden,
    /// The owner already has a restaurant of that name.
    #[error("duplicate name")]
    DuplicateName,
    /// The restaurant changed between reading and writing it.
    #[error("changed meanwhile")]
    Changed,
    /// A problem decided elsewhere (authentication, permission).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// The store failed; logged, opaque to the client.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Problem> for RestaurantError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl IntoResponse for RestaurantError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::NotFound(what) => Problem::not_found(format!("No such {what}.")),
            Self::Forbidden => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                .with_detail("Only the restaurant's owner or an administrator may change it."),
            Self::DuplicateName => {
                Problem::conflict("This owner already has a restaurant of that name.")
            }
            Self::Changed => Problem::conflict(
                "The restaurant changed while this request was applied; retry it.",
            ),
            Self::Problem(problem) => problem,
            Self::Store(StoreError::Duplicate) => {
                Problem::conflict("That would duplicate an existing restaurant.")
            }
            Self::Store(StoreError::Mongo(err)) => {
                tracing::error!(error = %err, "restaurant store failed");
                Problem::unavailable("The restaurant store cannot be reached; try again shortly.")
            }
        }
        .into_response()
    }
}
