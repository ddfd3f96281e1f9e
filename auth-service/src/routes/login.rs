use axum::{Json, extract::State, response::IntoResponse};
use serde::{Deserialize, Serialize};
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    attempt::Attempt,
    client::ClientInfo,
    error::AuthError,
    routes::mfa,
    state::AppState,
    store::{
        lockout::{self, Outcome},
        sessions, users,
    },
    tokens::TokenResponse,
};

/// Longest password accepted: longer ones are refused before any hashing.
const MAX_PASSWORD: usize = 128;

/// The body of `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

/// A password check passed by a user with MFA: the second factor is due.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Send it with a code to `/auth/mfa/verify`.
    pub challenge: Uuid,
    /// Seconds the challenge stays valid.
    pub expires_in: u64,
}

/// Checks an email and password. Unknown emails and wrong passwords get the same answer in
/// the same time; repeated failures hold back this client from the account, the account for
/// everyone at a higher count, or the client IP (429 each, alike for unknown emails).
#[utoipa::path(post, path = "/auth/login", tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens, or an MFA challenge", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn log_in(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<axum::response::Response, AuthError> {
    if request.password.chars().count() > MAX_PASSWORD {
        return Err(AuthError::Validation(vec![FieldError::new(
            "password",
            format!("must have at most {MAX_PASSWORD} characters"),
        )]));
    }
    let email = request.email.trim().to_lowercase();
    let attempt = Attempt {
        db: &state.db,
        email: &email,
        client: &client,
    };
    if let Some(retry_after) = lockout::ip_blocked(&state.db, &client.ip, &state.lockout).await? {
        attempt.record(None, Outcome::IpBlocked).await?;
        return Err(AuthError::TooManyAttempts { retry_after });
    }
    // Held back alike whether the email has an account or not.
    attempt.admit(None, &state.lockout).await?;
    let user = users::find_by_email(&state.db, &email).await?;
    let hash = user.as_ref().map(|user| user.password_hash.clone());
    let matches = state.hasher.verify_blocking(request.password, hash).await;
    let Some(user) = user else {
        attempt.record(None, Outcome::UnknownEmail).await?;
        return Err(AuthError::InvalidCredentials);
    };
    if !matches {
        attempt
            .record(Some(user.id), Outcome::WrongPassword)
            .await?;
        return Err(AuthError::InvalidCredentials);
    }
    // The count starts again only when the login is complete: with MFA, after the code.
    if users::has_mfa(&state.db, user.id).await? {
        let challenge = mfa::open_challenge(&state, user.id, &client).await?;
        attempt.record(Some(user.id), Outcome::MfaChallenge).await?;
        return Ok(Json(challenge).into_response());
    }
    lockout::reset(&state.db, user.id).await?;
    let tokens = sessions::start(&state, user.id, &client).await?;
    attempt.record(Some(user.id), Outcome::Success).await?;
    Ok(Json(tokens).into_response())
}
