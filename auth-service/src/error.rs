use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
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
    /// Wrong email, password, code or challenge: one answer for all, to reveal nothing.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed attempts: this client's, this account's, or this address's.
    #[error("too many failed attempts")]
    TooManyAttempts { retry_after: Duration },
    /// This client created too many accounts lately.
    #[error("too many registrations from this client")]
    TooManyRegistrations { retry_after: Duration },
    /// The password asked again (step-up) is not the account's.
    #[error("wrong password")]
    WrongPassword,
    /// The password is right but was generated: the sign-in must set a new one.
    #[error("the password must be changed")]
    PasswordChangeRequired,
    /// An administrator without a second factor, where one is required.
    #[error("a second factor must be enrolled")]
    MfaEnrolmentRequired,
    /// The access token's session was revoked (logged out, or revoked from another one).
    #[error("the session has ended")]
    SessionEnded,
    /// An administrator disabled the account: it can neither sign in nor refresh.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The refresh token is unknown, used, expired or its session revoked.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// Nothing of that id is visible to the caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(&'static str),
    /// Something this service needs is not ready yet.
    #[error("{0}")]
    Unavailable(&'static str),
    /// A problem decided elsewhere (authentication, permission).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// A store or library failed; logged, opaque to the client.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// Causes of a 500, kept for the log.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl From<sqlx::Error> for AuthError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<Problem> for AuthError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl AuthError {
    /// A 500 whose cause is `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(InternalError::Other(message.into()))
    }
}

fn retry_after(seconds: Duration) -> HeaderValue {
    HeaderValue::from(seconds.as_secs().max(1))
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors),
            Self::EmailTaken => Problem::conflict("An account with this email already exists."),
            Self::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid credentials",
            )
            .with_detail("The email, password or code is not right."),
            Self::TooManyAttempts { retry_after: wait } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-attempts",
                "Too many attempts",
            )
            .with_detail(format!(
                "Too many failed attempts; try again in {} s.",
                wait.as_secs().max(1)
            ))
            .with_header(header::RETRY_AFTER, retry_after(wait)),
            Self::TooManyRegistrations { retry_after: wait } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-registrations",
                "Too many registrations",
            )
            .with_detail(format!(
                "Too many accounts were asked for from this client; try again in {} s.",
                wait.as_secs().max(1)
            ))
            .with_header(header::RETRY_AFTER, retry_after(wait)),
            Self::WrongPassword => {
                Problem::new(StatusCode::FORBIDDEN, "wrong-password", "Wrong password")
                    .with_detail("The password given to confirm this change is not the account's.")
            }
            Self::PasswordChangeRequired => Problem::new(
                StatusCode::FORBIDDEN,
                "password-change-required",
                "Password change required",
            )
            .with_detail(
                "This account's password was generated and must be changed: send the same \
                 sign-in again with `new_password`.",
            ),
            Self::MfaEnrolmentRequired => Problem::new(
                StatusCode::FORBIDDEN,
                "mfa-enrolment-required",
                "Second factor required",
            )
            .with_detail(
                "Administrators must enrol a TOTP authenticator before acting as such: \
                 POST /auth/mfa/totp/setup, then /auth/mfa/totp/confirm.",
            ),
            Self::AccountDisabled => Problem::new(
                StatusCode::FORBIDDEN,
                "account-disabled",
                "Account disabled",
            )
            .with_detail("An administrator disabled this account; it cannot sign in."),
            Self::SessionEnded => {
                Problem::new(StatusCode::UNAUTHORIZED, "session-ended", "Session ended")
                    .with_detail("This token's session was revoked; sign in again.")
                    .with_header(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(
                            r#"Bearer realm="food-delivery", error="invalid_token""#,
                        ),
                    )
            }
            Self::InvalidRefreshToken => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-refresh-token",
                "Invalid refresh token",
            )
            .with_detail("The refresh token is unknown, used, expired or its session was revoked."),
            Self::NotFound(what) => Problem::not_found(format!("No such {what}.")),
            Self::Conflict(detail) => Problem::conflict(detail),
            Self::Unavailable(detail) => Problem::unavailable(detail),
            Self::Problem(problem) => problem,
            Self::Internal(err) => {
                tracing::error!(error = %err, "request failed");
                Problem::internal()
            }
        }
        .into_response()
    }
}
