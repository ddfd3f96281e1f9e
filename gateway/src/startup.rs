use std::sync::Arc;

use axum::{Router, middleware};
use gateway_net::server::{ConnectionLimits, Server};
use shared::{health::Checks, server::StartupError, service::ServiceDefinition};

use crate::{
    access::Access,
    admission, aggregate, cache,
    config::Config,
    dashboard,
    deploy::{self, Deployments},
    discovery::{self, Discovery},
    dispatch::Dispatcher,
    experiment::{self, Experiments},
    explorer,
    forwarded::Forwarding,
    guards,
    limit::InFlight,
    name::SERVICE,
    openapi,
    ops::{AdminListener, health::PublicHealth, public::PublicOps},
    ratelimit::RateLimiter,
    redis::Redis,
    revocation,
    state::{GatewayState, Shared},
    store::Store,
};
use gateway_upstream::probe::probe_client;
use gateway_upstream::{self as upstream, CallPolicy};

/// The gateway, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server<Dispatcher>,
    admin: AdminListener,
}

impl Application {
    /// Prepares the backends and Redis (dialled on first use) and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        // Installed first, so that the gauges set while building (Redis, the breakers) are
        // recorded.
        crate::metrics::describe();
        let redis = Redis::new(&config.redis_url).map_err(|err| StartupError::Store {
            store: "redis",
            message: err.to_string(),
        })?;
        let store = Store::new(
            redis.clone(),
            &config.redis_key_prefix,
            config.redis_timeout,
        );
        let client = probe_client();
        let backends = upstream::from_args(&config.upstream, &client)?;
        let discovery = Discovery::start(&config.discovery, backends.clone());
        let call_policy = CallPolicy::new(
            config.upstream.upstream_timeout,
            &config.upstream.retry,
            &config.upstream.breaker,
        );
        let state = GatewayState::new(Shared {
            access: Arc::new(Access {
                verifier: config.access.auth.verifier(),
                denylist: revocation::start(&config.revocation, &config.redis_url, &store).await,
                public: config.access.public_routes.clone(),
                policy: config.access.route_policy.clone(),
            }),
            limiter: RateLimiter::new(&config.rate_limit, store.clone()),
            cache: cache::Cache::new(config.cache.clone(), store.clone(), call_policy.clone()),
            backends: backends.clone(),
            grpc_backends: upstream::grpc_from_args(&config.upstream, &client)?,
            call_policy,
            part_timeout: config.guards.aggregate_part_timeout,
            body_limit: config.guards.body_limit,
            in_flight: InFlight::new(config.guards.max_concurrency),
            forwarding: Forwarding::new(
                config.guards.trusted_proxies.clone(),
                usize::from(config.guards.trusted_hops),
            ),
            deployments: Deployments::new(
                config.deploy.clone(),
                discovery.clone(),
                backends.clone(),
                client.clone(),
            ),
            discovery,
            experiments: Experiments::start(store, config.guards.cookie_secure),
        });
        let own = ServiceDefinition::new(SERVICE, None, config.common.request_timeout)
            .api(own_routes(state.clone()), openapi::document(&backends))
            .api_counts_itself()
            .readiness(Checks::new().with("redis", redis))
            .into_router();
        let admin = AdminListener::bind(&config.admin, state.clone(), upstream::checks(&backends))?;
        let dispatcher = Dispatcher::new(
            state,
            own,
            PublicOps::new(
                PublicHealth::new(upstream::checks(&backends)),
                openapi::document(&backends),
            ),
            config.common.request_timeout,
            guards::cors(&config.guards.cors_origins),
        );
        let server = Server::bind_workers(
            config.common.host,
            config.port,
            dispatcher,
            config.common.shutdown_timeout,
            config.worker_threads(),
        )?
        .with_limits(ConnectionLimits::new(
            &config.connections,
            config.guards.trusted_proxies.clone(),
        ))
        .with_tls(config.common.host, &config.tls)?
        .with_http2(config.http2.clone());
        Ok(Self { server, admin })
    }

    /// The port bound (useful when the configured port was 0).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The HTTPS port bound, if TLS is on.
    pub fn tls_port(&self) -> Option<u16> {
        self.server.tls_port()
    }

    /// The operational listener's port.
    pub fn admin_port(&self) -> u16 {
        self.admin.port().unwrap_or_default()
    }

    /// Serves until SIGINT or SIGTERM; the operational listener with it.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let admin = tokio::spawn(async move {
            if let Err(err) = self.admin.serve().await {
                tracing::error!(error = %err, "the operational listener stopped");
            }
        });
        let served = self.server.run_until_stopped().await;
        admin.abort();
        served
    }
}

/// The gateway's own API and the API explorer, behind its admission (shedding, body limit,
/// identification, rate limit, route policy) as a middleware; the proxied routes are
/// [`Dispatcher`]'s.
fn own_routes(state: GatewayState) -> Router {
    Router::new()
        .merge(aggregate::router())
        .merge(cache::router())
        .merge(discovery::http::router())
        .merge(dashboard::http::router())
        .merge(deploy::http::router())
        .merge(experiment::http::router())
        .merge(explorer::routes(&state.backends))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admission::admit_request,
        ))
        .with_state(state)
}
