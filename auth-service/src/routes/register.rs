use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::{JsonBody, Problem};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    client::ClientInfo,
    domain::{NewUser, RegisterRequest},
    error::AuthError,
    state::AppState,
    store::{registrations, users},
};

/// An account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// Roles held now.
    pub roles: Vec<String>,
    /// Roles asked for that await an admin's grant.
    pub requested_roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Creates an account (role `customer`; other roles are requests for an admin to grant).
#[utoipa::path(post, path = "/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = UserResponse),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this client (`Retry-After`)", body = Problem, content_type = "application/problem+json")))]
pub async fn register_user(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<impl IntoResponse, AuthError> {
    let user = NewUser::parse(request).map_err(AuthError::Validation)?;
    let limits = &state.registrations;
    if let Some(retry_after) = registrations::admit(
        &state.db,
        &client.ip,
        limits.registration_limit,
        limits.registration_window,
    )
    .await?
    {
        return Err(AuthError::TooManyRegistrations { retry_after });
    }
    let password_hash = state
        .hasher
        .hash_blocking(user.password)
        .await
        .map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    let (id, created_at) = users::insert(
        &mut transaction,
        &user.email,
        &user.display_name,
        &password_hash,
        user.requested_role,
    )
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => AuthError::EmailTaken,
        _ => err.into(),
    })?;
    transaction.commit().await?;
    let body = UserResponse {
        id,
        email: user.email,
        display_name: user.display_name,
        roles: vec!["customer".to_owned()],
        requested_roles: user
            .requested_role
            .map(|role| role.as_str().to_owned())
            .into_iter()
            .collect(),
        created_at,
    };
    Ok((StatusCode::CREATED, Json(body)))
}
