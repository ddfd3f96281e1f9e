use axum::{Json, extract::State, response::IntoResponse};
use messaging::contracts::event;
use serde::Deserialize;
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;

use crate::{
    account_events,
    attempt::Attempt,
    client::ClientInfo,
    domain::check_password,
    error::AuthError,
    routes::challenge,
    state::AppState,
    store::{
        lockout::{self, Outcome},
        resets,
        revocations::{self, Revocation},
        sessions,
        users::{self, UserRecord},
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
    /// Only for an account whose password must be changed (a 403
    /// `password-change-required` said so): the password it takes from now on.
    #[serde(default)]
    #[schema(format = Password)]
    pub new_password: Option<String>,
}

/// Checks an email and password. Unknown emails and wrong passwords get the same answer in
/// the same time; repeated failures hold back this client from the account, the account for
/// everyone at a higher count, or the client IP (429 each, alike for unknown emails). An
/// account whose password was generated (the first administrator's) is answered 403
/// `password-change-required` until the sign-in also sends `new_password`, which replaces it.
#[utoipa::path(post, path = "/auth/login", tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens, or an MFA challenge", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The password is right but must be changed: sign in again with `new_password`; or the account is disabled (`account-disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the new password breaks the policy", body = Problem, content_type = "application/problem+json"),
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
    let current = request.password.clone();
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
    // Only to whoever knows the password: to others a disabled account looks like any.
    if user.disabled {
        return Err(AuthError::AccountDisabled);
    }
    match (user.password_change_required, request.new_password) {
        (false, None) => {}
        (false, Some(_)) => {
            return Err(new_password_error(
                "is only for a password that must be changed; use POST /auth/password",
            ));
        }
        (true, None) => {
            attempt
                .record(Some(user.id), Outcome::PasswordChangeRequired)
                .await?;
            return Err(AuthError::PasswordChangeRequired);
        }
        (true, Some(new_password)) => {
            replace_password(&state, &user, &current, new_password).await?;
        }
    }
    // The count starts again only when the login is complete: with MFA, after the code.
    if users::has_mfa(&state.db, user.id).await? {
        let challenge = challenge::open_challenge(&state, user.id, &client).await?;
        attempt.record(Some(user.id), Outcome::MfaChallenge).await?;
        return Ok(Json(challenge).into_response());
    }
    lockout::reset(&state.db, user.id).await?;
    let tokens = sessions::start(&state, user.id, &client).await?;
    attempt.record(Some(user.id), Outcome::Success).await?;
    Ok(Json(tokens).into_response())
}

/// Sets the password chosen in place of a generated one.
async fn replace_password(
    state: &AppState,
    user: &UserRecord,
    current: &str,
    new_password: String,
) -> Result<(), AuthError> {
    if new_password == current {
        return Err(new_password_error("must differ from the current password"));
    }
    check_password(&new_password, &user.email).map_err(new_password_error)?;
    let hash = state
        .hasher
        .hash_blocking(new_password)
        .await
        .map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    users::set_password(&mut transaction, user.id, &hash).await?;
    let revocation = Revocation::of(state, user.id, "password_changed");
    revocations::revoke_all(&mut transaction, revocation, None).await?;
    resets::void_all(&mut transaction, user.id).await?;
    account_events::announce(
        &mut transaction,
        event::PASSWORD_CHANGED,
        user,
        "changed_at_first_sign_in",
    )
    .await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %user.id, "generated password replaced");
    Ok(())
}

fn new_password_error(detail: impl Into<String>) -> AuthError {
    AuthError::Validation(vec![FieldError::new("new_password", detail)])
}
