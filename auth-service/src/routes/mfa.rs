//! The second step of a sign-in with MFA, and the checks of a code it shares with the
//! account's own MFA settings.

use axum::{Json, extract::State, response::IntoResponse};
use serde::Deserialize;
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    attempt::Attempt,
    client::ClientInfo,
    error::AuthError,
    state::AppState,
    store::{
        lockout::{self, Outcome},
        mfa, sessions, users,
    },
    tokens::TokenResponse,
    totp, totp_secret,
};

/// The second step of an MFA login: the challenge and a TOTP or a recovery code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub challenge: Uuid,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// Completes an MFA login. A code is accepted once; wrong codes count as failed attempts.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "mfa",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 401, description = "Wrong, used or expired challenge or code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of code and recovery_code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn verify_mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<impl IntoResponse, AuthError> {
    let factor = SecondFactor::of(request.code, request.recovery_code)?;
    let user = mfa::challenged_user(&state.db, request.challenge).await?;
    let user = users::find_by_id(&state.db, user.ok_or(AuthError::InvalidCredentials)?)
        .await?
        .ok_or(AuthError::InvalidCredentials)?;
    let attempt = Attempt {
        db: &state.db,
        email: &user.email,
        client: &client,
    };
    attempt.admit(Some(user.id), &state.lockout).await?;
    if !factor.accept(&state, user.id).await? {
        attempt.record(Some(user.id), Outcome::WrongCode).await?;
        return Err(AuthError::InvalidCredentials);
    }
    if !mfa::close_challenge(&state.db, request.challenge).await? {
        return Err(AuthError::InvalidCredentials);
    }
    lockout::reset(&state.db, user.id).await?;
    let tokens = sessions::start(&state, user.id, &client).await?;
    attempt.record(Some(user.id), Outcome::Success).await?;
    Ok(Json(tokens))
}

/// A code from the authenticator, or one of the recovery codes: one of the two.
pub enum SecondFactor {
    Totp(String),
    Recovery(String),
}

impl SecondFactor {
    /// The factor a request sends; both or neither is a 422.
    pub fn of(code: Option<String>, recovery_code: Option<String>) -> Result<Self, AuthError> {
        match (code, recovery_code) {
            (Some(code), None) => Ok(Self::Totp(code)),
            (None, Some(code)) => Ok(Self::Recovery(code)),
            _ => Err(AuthError::Validation(vec![FieldError::new(
                "code",
                "send either code or recovery_code",
            )])),
        }
    }

    /// The request field it came in.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Totp(_) => "code",
            Self::Recovery(_) => "recovery_code",
        }
    }

    /// Whether it is right for `user`, using it up: a TOTP code's time step or the
    /// recovery code cannot be used again.
    pub async fn accept(&self, state: &AppState, user: Uuid) -> Result<bool, AuthError> {
        match self {
            Self::Totp(code) => accept_totp(state, user, code).await,
            Self::Recovery(code) => {
                let hash = state.code_key.hash(&totp::normalise_recovery_code(code));
                Ok(mfa::use_recovery_code(&state.db, user, &hash).await?)
            }
        }
    }
}

/// Checks a TOTP code and, atomically, moves the last used step past it.
async fn accept_totp(state: &AppState, user: Uuid, code: &str) -> Result<bool, AuthError> {
    let Some((stored, last_step)) = mfa::active_secret(&state.db, user).await? else {
        return Ok(false);
    };
    let secret = totp_secret::open(&state.sealer, user, stored)?;
    let generator =
        totp::generator(&secret, &state.tokens.totp_issuer, "user").map_err(AuthError::internal)?;
    let Some(step) = totp::matching_step(
        &generator,
        code,
        totp::now(),
        u64::try_from(last_step).unwrap_or(0),
    ) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    Ok(mfa::advance_step(&state.db, user, step).await?)
}
