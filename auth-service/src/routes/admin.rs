use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use shared::{FieldError, JsonBody, Problem, auth::Role};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    account::Administrator,
    error::AuthError,
    state::AppState,
    store::{
        lockout,
        revocations::{self, Revocation},
        users,
    },
};

/// A role to grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    #[schema(example = "restaurant_owner")]
    pub role: String,
}

/// A user's roles after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRoles {
    pub user_id: Uuid,
    pub roles: Vec<String>,
}

/// The new signing key.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    pub kid: String,
}

fn parse_role(name: &str, field: &str) -> Result<Role, AuthError> {
    Role::parse(name)
        .ok_or_else(|| AuthError::Validation(vec![FieldError::new(field, "is not a role")]))
}

async fn roles_view(state: &AppState, user: Uuid) -> Result<Json<UserRoles>, AuthError> {
    let roles = users::roles_of(&state.db, user).await?;
    Ok(Json(UserRoles {
        user_id: user,
        roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
    }))
}

/// Grants a role (needs `users:manage`). The user's next token carries it.
#[utoipa::path(post, path = "/auth/admin/users/{id}/roles", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")), request_body = RoleGrant,
    responses(
        (status = 200, description = "The user's roles", body = UserRoles),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a role", body = Problem, content_type = "application/problem+json")))]
pub async fn grant_role(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
    Path(id): Path<Uuid>,
    JsonBody(request): JsonBody<RoleGrant>,
) -> Result<Json<UserRoles>, AuthError> {
    let role = parse_role(&request.role, "role")?;
    users::find_by_id(&state.db, id)
        .await?
        .ok_or(AuthError::NotFound("user"))?;
    let mut transaction = state.db.begin().await?;
    users::grant(&mut transaction, id, role, Some(caller.claims.sub)).await?;
    transaction.commit().await?;
    tracing::info!(user = %id, role = role.as_str(), by = %caller.claims.sub, "role granted");
    roles_view(&state, id).await
}

/// Takes a role away (needs `users:manage`). The user's sessions are revoked with it, so
/// that no access token carrying the role lives on: the user signs in again.
#[utoipa::path(delete, path = "/auth/admin/users/{id}/roles/{role}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("role" = String, Path, description = "Role")),
    responses(
        (status = 200, description = "The user's roles", body = UserRoles),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user does not hold the role", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_role(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
    Path((id, role)): Path<(Uuid, String)>,
) -> Result<Json<UserRoles>, AuthError> {
    let role = parse_role(&role, "role")?;
    let mut transaction = state.db.begin().await?;
    if !users::revoke(&mut transaction, id, role).await? {
        return Err(AuthError::NotFound("role of that user"));
    }
    let revocation = Revocation::of(&state, id, "role_revoked");
    revocations::revoke_all(&mut transaction, revocation, None).await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %id, role = role.as_str(), by = %caller.claims.sub, "role revoked");
    roles_view(&state, id).await
}

/// Opens a locked account at once (needs `users:manage`).
#[utoipa::path(post, path = "/auth/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json")))]
pub async fn unlock_user(
    State(state): State<AppState>,
    _: Administrator,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AuthError> {
    if lockout::reset(&state.db, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AuthError::NotFound("user"))
    }
}

/// Starts signing with a new key (needs `users:manage`); the old one stays published until
/// the tokens it signed have expired.
#[utoipa::path(post, path = "/auth/admin/keys/rotate", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "The new key id", body = RotatedKey),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator now, or one who must enrol a second factor first (`mfa-enrolment-required`)", body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_keys(
    State(state): State<AppState>,
    _: Administrator,
) -> Result<Json<RotatedKey>, AuthError> {
    let kid = state
        .keys
        .rotate()
        .await
        .map_err(|err| AuthError::internal(err.to_string()))?;
    Ok(Json(RotatedKey { kid }))
}
