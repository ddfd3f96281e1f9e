//! delivery-service's HTTP API.

mod couriers;
mod shipments;

use axum::{
    Router,
    routing::{get, post, put},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::state::AppState;

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/delivery/couriers", post(couriers::register_courier))
        .route(
            "/delivery/couriers/me/availability",
            put(couriers::set_availability),
        )
        .route(
            "/delivery/couriers/me/location",
            put(couriers::set_location),
        )
        .route("/delivery/shipments", post(shipments::create_shipment))
        .route("/delivery/{order_id}", get(shipments::get_shipment))
        .route("/delivery/{order_id}/picked-up", post(shipments::pick_up))
        .route("/delivery/{order_id}/delivered", post(shipments::deliver))
        .route(
            "/delivery/{order_id}/cancel",
            post(shipments::cancel_shipment),
        )
        // Their state changes on its own (a saga, a courier): never served from a cache.
        .layer(axum::middleware::map_response(shared::http::not_stored))
        .with_state(state)
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        couriers::register_courier,
        couriers::set_availability,
        couriers::set_location,
        shipments::create_shipment,
        shipments::get_shipment,
        shipments::pick_up,
        shipments::deliver,
        shipments::cancel_shipment,
    ),
    components(schemas(
        couriers::CourierProfile,
        couriers::Availability,
        crate::couriers::CourierView,
        crate::geo::Point,
        shipments::NewShipment,
        crate::shipments::ShipmentView,
        crate::shipments::ShipmentStatus,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "couriers", description = "Courier profiles, availability and location"),
        (name = "shipments", description = "Shipments of orders, assigned to the nearest free courier"),
    )
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
