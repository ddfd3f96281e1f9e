//! The registry as the gateway sees it, for administrators: `GET /admin/registry`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRef, State},
    routing::get,
};
use gateway_upstream::Backend;

use super::{Discovery, view::RegistryView};

/// Each backend's instances as the gateway sees them (admins only).
#[utoipa::path(get, path = "/admin/registry", tag = "discovery",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each backend's instances and where they come from", body = RegistryView),
        (status = 401, description = "No valid token", body = shared::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = shared::Problem, content_type = "application/problem+json")))]
pub async fn get_registry(
    State(discovery): State<Discovery>,
    State(backends): State<Arc<[Backend]>>,
) -> Json<RegistryView> {
    Json(discovery.view().await.described(&backends))
}

/// The discovery's routes.
pub fn router<S>() -> Router<S>
where
    Discovery: FromRef<S>,
    Arc<[Backend]>: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/admin/registry", get(get_registry))
}
