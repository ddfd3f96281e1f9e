//! The registry as the gateway sees it, for administrators: `GET /admin/registry`.

use axum::{Json, Router, extract::State, routing::get};

use super::view::RegistryView;
use crate::state::GatewayState;

/// Each backend's instances as the gateway sees them (admins only).
#[utoipa::path(get, path = "/admin/registry", tag = "discovery",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each backend's instances and where they come from", body = RegistryView),
        (status = 401, description = "No valid token", body = shared::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = shared::Problem, content_type = "application/problem+json")))]
pub async fn get_registry(State(state): State<GatewayState>) -> Json<RegistryView> {
    Json(state.discovery.view().await.described(&state.backends))
}

/// The discovery's routes.
pub fn router() -> Router<GatewayState> {
    Router::new().route("/admin/registry", get(get_registry))
}
