use argon2::{Argon2, PasswordHasher, password_hash::SaltString};
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::{JsonBody, Problem};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use crate::{
    domain::{NewUser, RegisterRequest},
    error::{AuthError, InternalError},
};

/// An account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

/// Creates an account.
#[utoipa::path(post, path = "/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = UserResponse),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn register_user(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<impl IntoResponse, AuthError> {
    let user = NewUser::parse(request).map_err(AuthError::Validation)?;
    let password = user.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| InternalError::Hashing(err.to_string()))??;
    let id = Uuid::now_v7();
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4) RETURNING created_at",
    )
    .bind(id)
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(&password_hash)
    .fetch_one(&state.db)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => AuthError::EmailTaken,
        _ => err.into(),
    })?;
    let body = UserResponse {
        id,
        email: user.email,
        display_name: user.display_name,
        created_at,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// argon2id with the crate's defaults, which are OWASP's (19 MiB, 2 passes, 1 lane).
fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| InternalError::Hashing(err.to_string()).into())
}
