//! What each binary is given: its stores, where the others are, and the test's settings.

use std::collections::BTreeMap;

use messaging::testing::TestBroker;
use shared::testing::{TcpProxy, TestRegistry, mongodb_url};

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, Options};
use crate::processes::free_port;

/// Where the platform's databases are.
pub(super) struct Stores {
    pub auth: String,
    pub payments: String,
    pub delivery: String,
    pub tracking: String,
    /// `ORDER_SHARDS`.
    pub shard_map: String,
}

/// Each binary's variables, the gateway last.
pub(super) fn plans(
    options: &Options,
    ports: &BTreeMap<&'static str, u16>,
    stores: &Stores,
    broker: &TestBroker,
    broker_proxies: &BTreeMap<&'static str, TcpProxy>,
    registry: &TestRegistry,
) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let delays: Vec<String> = broker
        .delays
        .0
        .iter()
        .map(|delay| humantime::format_duration(*delay).to_string())
        .collect();
    let messaging = |name: &str, mut pairs: Vec<(&'static str, String)>| {
        let url = match broker_proxies.get(name) {
            Some(proxy) => format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port()),
            None => broker.url.clone(),
        };
        pairs.push(("AMQP_URL", url));
        pairs.push(("AMQP_PREFIX", broker.prefix.clone()));
        pairs.push(("MESSAGE_RETRY_DELAYS", delays.join(",")));
        pairs
    };
    let url = |name: &str| format!("http://127.0.0.1:{}", ports[name]);
    let jwks = format!("{}/.well-known/jwks.json", url("auth-service"));
    let mut plans: Vec<(&'static str, Vec<(&'static str, String)>)> = vec![
        (
            "auth-service",
            messaging(
                "auth-service",
                vec![
                    ("DATABASE_URL", stores.auth.clone()),
                    ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
                    ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
                    ("ARGON2_MEMORY_KIB", "1024".into()),
                    ("ARGON2_ITERATIONS", "1".into()),
                    // Every test user signs up from loopback.
                    ("REGISTRATION_LIMIT", "1000".into()),
                ],
            ),
        ),
        (
            "order-service",
            messaging(
                "order-service",
                vec![
                    ("ORDER_SHARDS", stores.shard_map.clone()),
                    ("RESTAURANT_SERVICE_URL", url("restaurant-service")),
                    ("SAGA_STEP_TIMEOUT", "5s".into()),
                ],
            ),
        ),
        (
            "restaurant-service",
            vec![
                ("MONGODB_URL", mongodb_url()),
                (
                    "MONGODB_DATABASE",
                    format!("e2e_restaurants_{}", free_port()),
                ),
            ],
        ),
        (
            "delivery-service",
            messaging(
                "delivery-service",
                vec![("DATABASE_URL", stores.delivery.clone())],
            ),
        ),
        (
            "tracking-service",
            messaging(
                "tracking-service",
                vec![("DATABASE_URL", stores.tracking.clone())],
            ),
        ),
        (
            "payment-service",
            messaging(
                "payment-service",
                vec![("DATABASE_URL", stores.payments.clone())],
            ),
        ),
        (
            "gateway",
            vec![
                ("AUTH_SERVICE_URL", url("auth-service")),
                ("ORDER_SERVICE_URL", url("order-service")),
                ("RESTAURANT_SERVICE_URL", url("restaurant-service")),
                ("DELIVERY_SERVICE_URL", url("delivery-service")),
                ("TRACKING_SERVICE_URL", url("tracking-service")),
                ("PAYMENT_SERVICE_URL", url("payment-service")),
                ("UPSTREAM_TIMEOUT", "5s".into()),
                ("RATE_LIMIT", options.rate_limits.to_string()),
                ("ADMIN_PORT", free_port().to_string()),
                (
                    "REDIS_KEY_PREFIX",
                    format!("e2e-gateway-{}", ports["gateway"]),
                ),
            ],
        ),
    ];
    for (name, pairs) in &mut plans {
        if *name != "auth-service" {
            pairs.push(("AUTH_JWKS_URL", jwks.clone()));
        }
        pairs.push(("REGISTRY_URL", registry.url.clone()));
        pairs.push(("REGISTRY_PREFIX", registry.prefix.clone()));
        if *name == "gateway" {
            pairs.push(("REGISTRY_REFRESH", "200ms".into()));
            // Its revocations' queue, with the services' broker and prefix.
            pairs.push(("AMQP_URL", broker.url.clone()));
            pairs.push(("AMQP_PREFIX", broker.prefix.clone()));
        } else {
            pairs.push(("REGISTRY_TTL", "2s".into()));
        }
        for (binary, key, value) in &options.extra {
            if binary == name {
                pairs.push((key, value.clone()));
            }
        }
    }
    plans
}
