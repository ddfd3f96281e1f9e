use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::Problem;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    account::Account,
    error::AuthError,
    state::AppState,
    store::{required_actions, users},
};

/// The caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub requested_roles: Vec<String>,
    pub mfa_enabled: bool,
    /// What the account must do before its tokens carry all its roles (`mfa_enrolment`).
    pub required_actions: Vec<&'static str>,
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Who I am. Unlike other services, auth-service refuses a revoked session's token at once,
/// on this route as on every other.
#[utoipa::path(get, path = "/auth/me", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 401, description = "No valid token, or a revoked session", body = Problem, content_type = "application/problem+json")))]
pub async fn get_me(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
) -> Result<Json<Me>, AuthError> {
    let user = users::find_by_id(&state.db, claims.sub)
        .await?
        .ok_or(AuthError::InvalidCredentials)?;
    let roles = users::roles_of(&state.db, user.id).await?;
    let required_actions = if required_actions::must_enrol_mfa(&state, user.id, &roles).await? {
        vec![required_actions::MFA_ENROLMENT]
    } else {
        Vec::new()
    };
    Ok(Json(Me {
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
        permissions: shared::auth::Role::permissions_of(&roles),
        requested_roles: users::requested_roles(&state.db, user.id).await?,
        mfa_enabled: users::has_mfa(&state.db, user.id).await?,
        required_actions,
        session_id: claims.sid,
        created_at: user.created_at,
    }))
}
