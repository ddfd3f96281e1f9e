//! payment-service's HTTP API.

mod operations;
mod read;
mod views;

use axum::{
    Router,
    http::{HeaderValue, header},
    middleware::map_response,
    response::Response,
    routing::{get, post},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::state::AppState;

/// The API's routes. Every answer is `Cache-Control: no-store`: a payment's view is no
/// cache's to keep.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/payments/authorize", post(operations::authorize_payment))
        .route("/payments/{order_id}", get(read::get_payment))
        .route(
            "/payments/{order_id}/capture",
            post(operations::capture_payment),
        )
        .route("/payments/{order_id}/void", post(operations::void_payment))
        .route(
            "/payments/{order_id}/refund",
            post(operations::refund_payment),
        )
        .layer(map_response(no_store))
        .with_state(state)
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        operations::authorize_payment,
        operations::capture_payment,
        operations::void_payment,
        operations::refund_payment,
        read::get_payment,
    ),
    components(schemas(
        crate::domain::AuthorizeRequest,
        operations::AmountRequest,
        views::PaymentView,
        crate::status::PaymentStatus,
        views::PaymentDetails,
        crate::store::LedgerEntry,
    )),
    modifiers(&BearerAuth),
    tags((name = "payments", description = "Authorize, capture, void, refund; a balanced ledger"))
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
