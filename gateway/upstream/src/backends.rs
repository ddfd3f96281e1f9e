//! The services behind the gateway, the path prefix each one serves, its instances, and each
//! one's breaker and retry budget.

use std::{
    ops::Deref,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use clap::Args;
use metrics::{Counter, Histogram};
use shared::{
    config::parse_http_url,
    health::Checks,
    resilience::{Breaker, BreakerConfig},
    server::StartupError,
};

use gateway_net::multiplexed::Multiplexed;

use crate::{
    args::{BreakerArgs, GrpcBackend, RetryArgs, parse_grpc_backend},
    balance::Balancer,
    budget::RetryBudget,
    origin::Origin,
    outlier::OutlierArgs,
    probe::{ProbeClient, Upstream},
};

/// The services behind the gateway, and how calls to them are guarded.
#[derive(Debug, Clone, Args)]
pub struct UpstreamArgs {
    /// auth-service, serving `/auth/*`.
    #[arg(long, env = "AUTH_SERVICE_URL", default_value = "http://127.0.0.1:3001", value_parser = parse_http_url)]
    pub auth_service_url: String,
    /// order-service, serving `/orders/*`.
    #[arg(long, env = "ORDER_SERVICE_URL", default_value = "http://127.0.0.1:3002", value_parser = parse_http_url)]
    pub order_service_url: String,
    /// restaurant-service, serving `/restaurants/*`.
    #[arg(long, env = "RESTAURANT_SERVICE_URL", default_value = "http://127.0.0.1:3003", value_parser = parse_http_url)]
    pub restaurant_service_url: String,
    /// delivery-service, serving `/delivery/*`.
    #[arg(long, env = "DELIVERY_SERVICE_URL", default_value = "http://127.0.0.1:3004", value_parser = parse_http_url)]
    pub delivery_service_url: String,
    /// tracking-service, serving `/tracking/*`.
    #[arg(long, env = "TRACKING_SERVICE_URL", default_value = "http://127.0.0.1:3005", value_parser = parse_http_url)]
    pub tracking_service_url: String,
    /// payment-service, serving `/payments/*`.
    #[arg(long, env = "PAYMENT_SERVICE_URL", default_value = "http://127.0.0.1:3006", value_parser = parse_http_url)]
    pub payment_service_url: String,
    /// Longest wait for a backend's response headers.
    #[arg(long, env = "UPSTREAM_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,
    #[command(flatten)]
    pub breaker: BreakerArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(flatten)]
    pub outlier: OutlierArgs,
    /// gRPC services passed through, each `package.Service=http://host:port` (comma-separated):
    /// calls under `/package.Service/` go to that backend over HTTP/2 with prior knowledge.
    #[arg(long = "grpc-backend", env = "GRPC_BACKENDS", value_delimiter = ',', value_parser = parse_grpc_backend)]
    pub grpc_backends: Vec<GrpcBackend>,
}

/// One service behind the gateway; cloning shares it.
#[derive(Debug, Clone)]
pub struct Backend(Arc<BackendInner>);

impl Deref for Backend {
    type Target = BackendInner;

    fn deref(&self) -> &BackendInner {
        &self.0
    }
}

/// What a backend is.
#[derive(Debug)]
pub struct BackendInner {
    /// Its name, in errors, logs, `/health` and the statistics.
    pub name: &'static str,
    /// The path prefix routed to it, unchanged (`/orders`).
    pub prefix: &'static str,
    /// The route template of the paths under the prefix (`/orders/{*rest}`).
    pub subtree: String,
    /// Its configured URL, for `/health`.
    pub upstream: Upstream,
    /// Its instances and the choice between them.
    pub balancer: Balancer,
    /// Its circuit breaker: each call's while it has one instance (the configured URL),
    /// each request's whole outcome while its registered instances have their own.
    pub breaker: Arc<Breaker>,
    /// Its retry budget.
    pub budget: Arc<RetryBudget>,
    /// Retries made, and refused by the budget, since start.
    pub retries: AtomicU64,
    pub retries_refused: AtomicU64,
    /// Its calls' metrics, registered once rather than looked up by name on every call.
    pub metrics: CallMetrics,
    /// A gRPC backend's one HTTP/2 connection; `None` for the HTTP/1.1 services.
    pub multiplexed: Option<Multiplexed>,
}

/// The metrics of one backend's calls.
#[derive(Debug)]
pub struct CallMetrics {
    /// Calls by outcome: `response`, `5xx`, `unreachable`, `timeout`.
    pub response: Counter,
    pub server_error: Counter,
    pub unreachable: Counter,
    pub timeout: Counter,
    /// How long calls took.
    pub duration: Histogram,
}

impl CallMetrics {
    fn register(service: &'static str) -> Self {
        let calls = |outcome: &'static str| metrics::counter!("gateway_upstream_requests_total", "service" => service, "outcome" => outcome);
        Self {
            response: calls("response"),
            server_error: calls("5xx"),
            unreachable: calls("unreachable"),
            timeout: calls("timeout"),
            duration: metrics::histogram!("gateway_upstream_duration_seconds", "service" => service),
        }
    }
}

/// Every backend, from the configuration; refused if a URL names no host to call.
pub fn from_args(
    config: &UpstreamArgs,
    client: &ProbeClient,
) -> Result<Arc<[Backend]>, StartupError> {
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
    .map(|(name, prefix, url)| backend(config, client, name, prefix, url, false))
    .collect()
}

/// The gRPC backends, each serving the calls under its service's path.
pub fn grpc_from_args(
    config: &UpstreamArgs,
    client: &ProbeClient,
) -> Result<Arc<[Backend]>, StartupError> {
    let services = &config.grpc_backends;
    for (at, grpc) in services.iter().enumerate() {
        if services[..at]
            .iter()
            .any(|before| before.service == grpc.service)
        {
            return Err(StartupError::Config(format!(
                "GRPC_BACKENDS names `{}` twice",
                grpc.service
            )));
        }
    }
    services
        .iter()
        .map(|grpc| {
            // Named once at start-up and kept for the process's life, as the services' are.
            let name: &'static str = Box::leak(grpc.service.clone().into_boxed_str());
            let prefix: &'static str = Box::leak(format!("/{}", grpc.service).into_boxed_str());
            backend(config, client, name, prefix, &grpc.url, true)
        })
        .collect()
}

fn backend(
    config: &UpstreamArgs,
    client: &ProbeClient,
    name: &'static str,
    prefix: &'static str,
    url: &str,
    grpc: bool,
) -> Result<Backend, StartupError> {
    let breaker = BreakerConfig {
        failure_rate: f64::from(config.breaker.breaker_failure_rate) / 100.0,
        window: config.breaker.breaker_window,
        minimum_calls: config.breaker.breaker_minimum_calls,
        open_for: config.breaker.breaker_open_for,
        half_open_trials: config.breaker.breaker_half_open_calls,
    };
    let origin = Origin::parse(url)
        .ok_or_else(|| StartupError::Config(format!("{name}: `{url}` is not an http:// URL")))?;
    let multiplexed = grpc.then(|| Multiplexed::new(origin.address()));
    Ok(Backend(Arc::new(BackendInner {
        name,
        prefix,
        subtree: format!("{prefix}/{{*rest}}"),
        upstream: Upstream::new(url, client.clone()),
        balancer: Balancer::new(name, url, origin, breaker, config.outlier.clone()),
        breaker: Arc::new(Breaker::new(name, breaker)),
        budget: Arc::new(RetryBudget::new(
            config.retry.retry_budget,
            config.retry.retry_budget_floor,
        )),
        retries: AtomicU64::new(0),
        retries_refused: AtomicU64::new(0),
        metrics: CallMetrics::register(name),
        multiplexed,
    })))
}

/// Each backend's `/ready`, for the gateway's `/health`.
pub fn checks(backends: &[Backend]) -> Checks {
    backends.iter().fold(Checks::new(), |checks, backend| {
        checks.with(backend.name, backend.upstream.clone())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Config {
        #[command(flatten)]
        upstream: UpstreamArgs,
    }

    #[test]
    fn a_backend_url_the_gateway_cannot_call_stops_it_at_start_naming_the_service() {
        let config =
            Config::try_parse_from(["gateway", "--order-service-url", "https://orders:3002"])
                .expect("the syntax is accepted");
        let refused = from_args(&config.upstream, &crate::probe::probe_client())
            .expect_err("an https backend is refused");
        let message = refused.to_string();
        assert!(message.contains("order-service"), "{message}");
        assert!(message.contains("https://orders:3002"), "{message}");
    }

    #[test]
    fn a_grpc_service_named_twice_or_served_over_https_stops_the_gateway_at_start() {
        for (backends, named) in [
            (
                "a.Svc=http://127.0.0.1:50051,a.Svc=http://127.0.0.1:50052",
                "twice",
            ),
            ("a.Svc=https://127.0.0.1:50051", "https://127.0.0.1:50051"),
        ] {
            let config = Config::try_parse_from(["gateway", "--grpc-backend", backends])
                .expect("the syntax is accepted");
            let refused = grpc_from_args(&config.upstream, &crate::probe::probe_client())
                .expect_err("refused at start");
            let message = refused.to_string();
            assert!(message.contains("a.Svc"), "{message}");
            assert!(message.contains(named), "{message}");
        }
    }
}
