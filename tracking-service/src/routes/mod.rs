//! tracking-service's HTTP API: commands append events, queries read projections, live
//! streams follow them.

mod commands;
mod live;
mod queries;

use axum::{
    Router,
    routing::{get, post},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::state::AppState;

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/tracking/admin/rebuild",
            post(commands::rebuild_projections),
        )
        .route(
            "/tracking/couriers/{courier_id}/active",
            get(queries::get_active_deliveries),
        )
        .route("/tracking/{delivery_id}", get(queries::get_tracking))
        .route(
            "/tracking/{delivery_id}/events",
            get(queries::get_timeline).post(commands::append_event),
        )
        .route(
            "/tracking/{delivery_id}/locations",
            post(commands::record_location),
        )
        .route("/tracking/{delivery_id}/stream", get(live::stream_tracking))
        .route("/tracking/{delivery_id}/live", get(live::watch_tracking))
        .with_state(state)
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        commands::append_event,
        commands::record_location,
        commands::rebuild_projections,
        queries::get_tracking,
        queries::get_timeline,
        queries::get_active_deliveries,
        live::stream_tracking,
        live::watch_tracking,
    ),
    components(schemas(
        crate::events::Event,
        commands::AppendRequest,
        commands::LocationRequest,
        commands::Rebuilt,
        crate::read_models::StatusView,
        crate::read_models::TimelineEntry,
        crate::read_models::ActiveDelivery,
    )),
    modifiers(&BearerAuth),
    tags((name = "tracking", description = "Event-sourced delivery tracking with read models and live updates"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
