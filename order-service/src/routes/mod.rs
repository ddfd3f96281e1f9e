//! order-service's HTTP API.

mod cancel;
mod create;
mod read;
mod saga;
mod saga_actions;
mod saga_summary;
mod saga_views;
mod transitions;
pub mod views;

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
        .route("/orders", get(read::list_orders).post(create::create_order))
        .route("/orders/admin/sagas", get(saga::list_sagas))
        .route(
            "/orders/admin/sagas/summary",
            get(saga_summary::get_saga_summary),
        )
        .route(
            "/orders/admin/sagas/{id}/retry",
            post(saga_actions::retry_saga),
        )
        .route(
            "/orders/admin/sagas/{id}/resolve",
            post(saga_actions::resolve_saga),
        )
        .route("/orders/{id}", get(read::get_order))
        .route("/orders/{id}/saga", get(saga::get_saga))
        .route("/orders/{id}/cancel", post(transitions::cancel_order))
        .route("/orders/{id}/accept", post(transitions::accept_order))
        .route("/orders/{id}/preparing", post(transitions::prepare_order))
        .route("/orders/{id}/ready", post(transitions::mark_order_ready))
        // Their state changes on its own (a saga, a courier): never served from a cache.
        .layer(axum::middleware::map_response(shared::http::not_stored))
        .with_state(state)
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        create::create_order,
        read::get_order,
        read::list_orders,
        saga::get_saga,
        saga::list_sagas,
        saga_actions::retry_saga,
        saga_actions::resolve_saga,
        saga_summary::get_saga_summary,
        transitions::cancel_order,
        transitions::accept_order,
        transitions::prepare_order,
        transitions::mark_order_ready,
    ),
    components(schemas(
        crate::domain::input::CreateOrder,
        crate::domain::input::ItemInput,
        crate::domain::input::DeliveryAddress,
        crate::domain::input::Location,
        saga_views::SagaView,
        saga_views::StepView,
        saga_views::SagaPage,
        saga_views::UnresolvedView,
        saga_views::ActionView,
        saga_views::WaitingFact,
        saga_actions::OperatorNote,
        saga_summary::SagaSummary,
        views::OrderView,
        crate::domain::lines::OrderLine,
        views::OrderPage,
        crate::domain::lines::Money,
    )),
    modifiers(&BearerAuth),
    tags((name = "orders", description = "Orders, on the customer's shard"))
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
