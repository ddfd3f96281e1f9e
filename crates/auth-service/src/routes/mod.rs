//! auth-service's HTTP API.

mod register;

use axum::{Router, routing::post};
use sqlx::PgPool;
use utoipa::OpenApi;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: PgPool,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/auth/register", post(register::register_user))
        .with_state(state)
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(register::register_user),
    components(schemas(crate::domain::RegisterRequest, register::UserResponse)),
    tags((name = "accounts", description = "Registration and accounts"))
)]
pub struct ApiDoc;
