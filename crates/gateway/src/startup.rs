use shared::{
    health::{Checks, Dependency},
    redis::Redis,
    server::{Server, StartupError},
    service::ServiceDefinition,
    upstream::http_client,
};

use crate::{Config, SERVICE, backends, openapi, proxy};

/// The gateway, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Prepares the backends and Redis (dialled on first use) and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let redis = Redis::new(&config.redis_url).map_err(|err| StartupError::Store {
            store: "redis",
            message: err.to_string(),
        })?;
        let client = http_client();
        let backends = backends::from_config(&config, &client);
        let state = proxy::ProxyState {
            client,
            upstream_timeout: config.upstream_timeout,
        };
        let router = ServiceDefinition::new(SERVICE, None, config.common.request_timeout)
            .api(
                proxy::router(state, &backends),
                openapi::document(&backends),
            )
            .readiness(Checks::new().with("redis", Dependency::Redis(redis)))
            .informational(backends::checks(&backends))
            .into_router();
        let server = Server::bind_with(router, &config.common, config.port).await?;
        Ok(Self { server })
    }

    /// The port bound (useful when the configured port was 0).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.server.run_until_stopped().await
    }
}
