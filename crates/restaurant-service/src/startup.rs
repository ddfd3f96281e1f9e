use shared::{
    health::{Checks, Dependency},
    server::{Server, StartupError},
    service::ServiceDefinition,
};

use crate::{Config, SERVICE};

/// restaurant-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Prepares the MongoDB client (which dials lazily) and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let database =
            shared::mongo::connect(&config.mongodb_url, &config.mongodb_database, SERVICE)
                .await
                .map_err(|err| StartupError::Store {
                    store: "mongodb",
                    message: err.to_string(),
                })?;
        let router =
            ServiceDefinition::new(SERVICE, Some("/restaurants"), config.common.request_timeout)
                .readiness(Checks::new().with("mongodb", Dependency::Mongo(database)))
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
