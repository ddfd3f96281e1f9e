use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use shared::Problem;
use uuid::Uuid;

use crate::{
    account::Account,
    error::AuthError,
    state::AppState,
    store::{
        revocations::{self, Revocation},
        sessions::{self, SessionView},
    },
};

/// My open sessions, newest first.
#[utoipa::path(get, path = "/auth/sessions", tag = "sessions", security(("bearer" = [])),
    responses(
        (status = 200, description = "Open sessions", body = [SessionView]),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json")))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
) -> Result<Json<Vec<SessionView>>, AuthError> {
    Ok(Json(
        sessions::list(&state.db, claims.sub, claims.sid).await?,
    ))
}

/// Revokes one of my sessions.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open session of mine", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AuthError> {
    let mut transaction = state.db.begin().await?;
    let revocation = Revocation::of(&state, claims.sub, "revoked_by_user");
    if !revocations::revoke(&mut transaction, revocation, id).await? {
        return Err(AuthError::NotFound("session"));
    }
    transaction.commit().await?;
    state.outbox.committed();
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every one of my sessions but this one ("sign out everywhere else").
#[utoipa::path(delete, path = "/auth/sessions", tag = "sessions", security(("bearer" = [])),
    responses(
        (status = 204, description = "The other sessions are revoked"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
) -> Result<StatusCode, AuthError> {
    let mut transaction = state.db.begin().await?;
    let revocation = Revocation::of(&state, claims.sub, "revoked_by_user");
    let revoked = revocations::revoke_all(&mut transaction, revocation, Some(claims.sid)).await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %claims.sub, revoked, "other sessions revoked");
    Ok(StatusCode::NO_CONTENT)
}
