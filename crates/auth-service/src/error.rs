use axum::response::{IntoResponse, Response};
use shared::{FieldError, Problem};

/// Everything auth-service's handlers can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The input was read but is invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// An account already uses this email.
    #[error("the email is already registered")]
    EmailTaken,
    /// A store or library failed; logged, opaque to the client.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// Causes of a 500, kept for the log.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("password hashing: {0}")]
    Hashing(String),
}

impl From<sqlx::Error> for AuthError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::EmailTaken => Problem::conflict("An account with this email already exists."),
            Self::Internal(err) => {
                tracing::error!(error = %err, "request failed");
                Problem::internal()
            }
        }
        .into_response()
    }
}
