//! The one place where a binary's routes, operational endpoints, fallbacks and middleware
//! are put together.

use std::{sync::Arc, time::Duration};

use axum::{Router, middleware, routing::get};

use crate::{
    health::{Checks, OpsState, get_health, get_metrics, get_openapi, get_readiness},
    http::{method_not_allowed, not_found, standard_layers},
    metrics::track_requests,
};

/// Everything that makes one binary's HTTP surface.
#[allow(missing_debug_implementations)] // utoipa's document has no Debug
pub struct ServiceDefinition {
    /// The binary's name (`order-service`).
    pub name: &'static str,
    /// The path prefix its API lives under (`/orders`); the operational endpoints other
    /// than `/metrics` are served under it too, so they can be reached through the gateway.
    pub prefix: Option<&'static str>,
    /// Its own routes, with their state applied.
    pub api: Router,
    /// Its own paths, documented.
    pub openapi: utoipa::openapi::OpenApi,
    /// Dependencies that must answer for `/ready` to be 200.
    pub readiness: Checks,
    /// Dependencies `/health` reports without failing on them.
    pub informational: Checks,
    /// Longest time one request may take.
    pub request_timeout: Duration,
    /// Whether the API's routes record their own request metrics.
    pub api_counts_itself: bool,
}

impl ServiceDefinition {
    /// A binary named `name` serving its API under `prefix`, with no routes or dependencies
    /// yet.
    pub fn new(
        name: &'static str,
        prefix: Option<&'static str>,
        request_timeout: Duration,
    ) -> Self {
        Self {
            name,
            prefix,
            api: Router::new(),
            openapi: utoipa::openapi::OpenApi::default(),
            readiness: Checks::new(),
            informational: Checks::new(),
            request_timeout,
            api_counts_itself: false,
        }
    }

    /// Its own routes (state applied) and their documentation.
    pub fn api(mut self, api: Router, openapi: utoipa::openapi::OpenApi) -> Self {
        self.api = api;
        self.openapi = openapi;
        self
    }

    /// The API's routes record their own request metrics (with
    /// [`record_request`](crate::metrics::record_request)) in a middleware they already have,
    /// so the standard tracking layer, one more layer on every request, is left off them.
    pub fn api_counts_itself(mut self) -> Self {
        self.api_counts_itself = true;
        self
    }

    /// What must answer for `/ready` to be 200.
    pub fn readiness(mut self, readiness: Checks) -> Self {
        self.readiness = readiness;
        self
    }

    /// What `/health` reports without failing on it.
    pub fn informational(mut self, informational: Checks) -> Self {
        self.informational = informational;
        self
    }

    /// The complete router.
    pub fn into_router(self) -> Router {
        // Installed before the first request, so that nothing is recorded into the void.
        crate::metrics::handle();
        let openapi = crate::openapi::document(self.name, self.openapi, self.prefix);
        let ops_state = OpsState {
            service: self.name,
            readiness: self.readiness,
            informational: self.informational,
            openapi: Arc::new(openapi),
        };
        let ops = Router::new()
            .route("/health", get(get_health))
            .route("/ready", get(get_readiness))
            .route("/openapi.json", get(get_openapi))
            .with_state(ops_state);
        let mut own = Router::new()
            .merge(ops.clone())
            .route("/metrics", get(get_metrics));
        if let Some(prefix) = self.prefix {
            own = own.nest(prefix, ops);
        }
        let tracked = middleware::from_fn(track_requests);
        let router = if self.api_counts_itself {
            own.route_layer(tracked).merge(self.api)
        } else {
            own.merge(self.api).route_layer(tracked)
        };
        let router = router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        standard_layers(router, self.request_timeout)
    }
}
