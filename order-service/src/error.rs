use axum::response::{IntoResponse, Response};
use http::StatusCode;
use shared::{FieldError, Problem};

use crate::domain::status::{Action, Status};

/// Everything order-service's handlers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The input was read but is invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// No order of that id that the caller may see.
    #[error("order not found")]
    NotFound,
    /// The status does not allow the action.
    #[error("{0}")]
    IllegalTransition(String),
    /// The idempotency key was used for another order.
    #[error("idempotency key reused")]
    KeyReused,
    /// The shard holding the data is down.
    #[error("shard {0} unavailable")]
    ShardUnavailable(String),
    /// restaurant-service cannot be asked.
    #[error("{0}")]
    RestaurantsUnavailable(String),
    /// A problem decided elsewhere (authentication, permission).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// A failure to log, opaque to the client.
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<Problem> for OrderError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl OrderError {
    /// `action` is not allowed on an order that is `current`.
    pub fn illegal(current: Status, action: Action) -> Self {
        Self::IllegalTransition(format!(
            "An order that is {current} cannot be changed by {action:?}."
        ))
    }

    /// A database error on shard `name`: its being unreachable is named, anything else is
    /// internal.
    pub fn on_shard(name: &str) -> impl Fn(sqlx::Error) -> Self + '_ {
        move |err| match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                Self::ShardUnavailable(name.to_owned())
            }
            other => Self::Database(other),
        }
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::NotFound => Problem::not_found("No such order."),
            Self::IllegalTransition(detail) => Problem::new(
                StatusCode::CONFLICT,
                "illegal-transition",
                "Illegal status change",
            )
            .with_detail(detail),
            Self::KeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            )
            .with_detail("This Idempotency-Key was used for a different order."),
            Self::ShardUnavailable(shard) => Problem::unavailable(format!(
                "Order shard {shard} is unavailable; try again shortly."
            ))
            .with_extension("shard", shard),
            Self::RestaurantsUnavailable(why) => {
                tracing::warn!(reason = %why, "restaurant-service unavailable");
                Problem::unavailable(
                    "restaurant-service cannot be reached to price the order; try again shortly.",
                )
                .with_extension("service", "restaurant-service")
            }
            Self::Problem(problem) => problem,
            Self::Database(err) => {
                tracing::error!(error = %err, "order store failed");
                Problem::internal()
            }
        }
        .into_response()
    }
}
