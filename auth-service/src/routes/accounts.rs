//! What administrators do to other people's accounts beyond roles: disable and enable one,
//! and reset its second factor for an owner who lost it. Each revokes the account's sessions
//! in the same transaction, announced so that the gateway refuses their tokens at once.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use messaging::contracts::event;
use shared::Problem;
use uuid::Uuid;

use crate::{
    account::Administrator,
    account_events,
    error::AuthError,
    state::AppState,
    store::{
        mfa,
        revocations::{self, Revocation},
        users,
    },
};

/// Disables an account (needs `users:manage`): it can no longer sign in or refresh, and
/// every one of its sessions is revoked. Administrators cannot disable their own.
#[utoipa::path(post, path = "/auth/admin/users/{id}/disable", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Disabled; its sessions are revoked"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller's own account", body = Problem, content_type = "application/problem+json")))]
pub async fn disable_user(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AuthError> {
    if id == caller.claims.sub {
        return Err(AuthError::Conflict(
            "An administrator cannot disable their own account.",
        ));
    }
    let mut transaction = state.db.begin().await?;
    if !users::set_disabled(&mut transaction, id, true).await? {
        return Err(AuthError::NotFound("user"));
    }
    let revocation = Revocation::of(&state, id, "account_disabled");
    let revoked = revocations::revoke_all(&mut transaction, revocation, None).await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %id, revoked, by = %caller.claims.sub, "account disabled");
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a disabled account again (needs `users:manage`): its owner may sign in.
#[utoipa::path(post, path = "/auth/admin/users/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Enabled"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json")))]
pub async fn enable_user(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AuthError> {
    let mut connection = state.db.acquire().await?;
    if !users::set_disabled(&mut connection, id, false).await? {
        return Err(AuthError::NotFound("user"));
    }
    tracing::info!(user = %id, by = %caller.claims.sub, "account enabled");
    Ok(StatusCode::NO_CONTENT)
}

/// Turns off an account's second factor for an owner who lost it (needs `users:manage`):
/// the authenticator and the recovery codes are removed, every session of the account is
/// revoked, and the owner is told through an `account.mfa_disabled` event. An account
/// without a second factor is left as it is.
#[utoipa::path(delete, path = "/auth/admin/users/{id}/mfa", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "The account has no second factor (any more)"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json")))]
pub async fn reset_user_mfa(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AuthError> {
    let user = users::find_by_id(&state.db, id)
        .await?
        .ok_or(AuthError::NotFound("user"))?;
    let mut transaction = state.db.begin().await?;
    if !mfa::disable(&mut transaction, user.id).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    let revocation = Revocation::of(&state, user.id, "mfa_reset");
    revocations::revoke_all(&mut transaction, revocation, None).await?;
    account_events::announce(
        &mut transaction,
        event::MFA_DISABLED,
        &user,
        "reset_by_administrator",
    )
    .await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %user.id, by = %caller.claims.sub, "second factor reset");
    Ok(StatusCode::NO_CONTENT)
}
