//! The services behind the gateway and the path prefix each one serves.

use std::sync::Arc;

use shared::{
    health::{Checks, Dependency},
    upstream::{HttpClient, Upstream},
};

use crate::Config;

/// One service behind the gateway.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Its name, in errors, logs and `/health`.
    pub name: &'static str,
    /// The path prefix routed to it, unchanged (`/orders`).
    pub prefix: &'static str,
    /// Where it is.
    pub upstream: Upstream,
}

/// Every backend, from the configuration.
pub fn from_config(config: &Config, client: &HttpClient) -> Arc<[Backend]> {
    [
        ("auth-service", "/auth", &config.auth_service_url),
        ("order-service", "/orders", &config.order_service_url),
        (
            "restaurant-service",
            "/restaurants",
            &config.restaurant_service_url,
        ),
        (
            "delivery-service",
            "/delivery",
            &config.delivery_service_url,
        ),
        (
            "tracking-service",
            "/tracking",
            &config.tracking_service_url,
        ),
        ("payment-service", "/payments", &config.payment_service_url),
    ]
    .into_iter()
    .map(|(name, prefix, url)| Backend {
        name,
        prefix,
        upstream: Upstream::new(url, client.clone()),
    })
    .collect()
}

/// Each backend's `/ready`, for the gateway's `/health`.
pub fn checks(backends: &[Backend]) -> Checks {
    backends.iter().fold(Checks::new(), |checks, backend| {
        checks.with(backend.name, Dependency::Upstream(backend.upstream.clone()))
    })
}
