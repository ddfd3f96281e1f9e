use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use shared::{JsonBody, Problem};
use utoipa::ToSchema;

use crate::{
    account::Account,
    error::AuthError,
    state::AppState,
    store::{
        lockout::{self, Outcome},
        revocations::{self, Revocation},
        sessions::{self, Refreshed},
        users,
    },
    tokens::TokenResponse,
};

/// The body of `POST /auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new access token and a new refresh token. Each refresh
/// token works once: presenting a used one revokes its whole session.
#[utoipa::path(post, path = "/auth/refresh", tag = "sessions",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, used or expired token, or revoked session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account-disabled`)", body = Problem, content_type = "application/problem+json")))]
pub async fn refresh_tokens(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<Json<TokenResponse>, AuthError> {
    match sessions::refresh(&state, &request.refresh_token).await? {
        Refreshed::Tokens(tokens) => Ok(Json(tokens)),
        Refreshed::Reused { user, session } => {
            tracing::warn!(%user, %session, "a used refresh token was presented again; session revoked");
            let email = users::find_by_id(&state.db, user)
                .await?
                .map(|user| user.email)
                .unwrap_or_default();
            lockout::audit(
                &state.db,
                Some(user),
                &email,
                "-",
                None,
                Outcome::RefreshTokenReuse,
            )
            .await?;
            Err(AuthError::InvalidRefreshToken)
        }
        Refreshed::Invalid => Err(AuthError::InvalidRefreshToken),
        Refreshed::Disabled => Err(AuthError::AccountDisabled),
    }
}

/// Ends the current session: its refresh token stops working at once, and its access token
/// at the gateway as soon as the revocation reaches it (well within a second).
#[utoipa::path(post, path = "/auth/logout", tag = "sessions", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json")))]
pub async fn log_out(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
) -> Result<StatusCode, AuthError> {
    let mut transaction = state.db.begin().await?;
    let revocation = Revocation::of(&state, claims.sub, "logout");
    revocations::revoke(&mut transaction, revocation, claims.sid).await?;
    transaction.commit().await?;
    state.outbox.committed();
    Ok(StatusCode::NO_CONTENT)
}
