use std::sync::Arc;

use shared::{
    health::Checks,
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use utoipa::OpenApi;

use crate::{
    config::{Config, SERVICE},
    routes,
    state::AppState,
    store::Restaurants,
};

/// restaurant-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Prepares the MongoDB client (which dials lazily), creates the indexes (now if MongoDB
    /// answers, else once it does) and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let database =
            shared::mongo::connect(&config.mongodb_url, &config.mongodb_database, SERVICE)
                .await
                .map_err(|err| StartupError::Store {
                    store: "mongodb",
                    message: err.to_string(),
                })?;
        let restaurants = Restaurants::new(&database);
        if let Err(err) = restaurants.ensure_indexes().await {
            tracing::warn!(error = %err, "cannot create the indexes yet; retrying in the background");
            tokio::spawn(ensure_indexes_later(restaurants.clone()));
        }
        let state = AppState {
            restaurants,
            verifier: Arc::new(config.auth.verifier()),
        };
        let router =
            ServiceDefinition::new(SERVICE, Some("/restaurants"), config.common.request_timeout)
                .api(routes::router(state), routes::ApiDoc::openapi())
                .readiness(Checks::new().with("mongodb", database))
                .into_router();
        let server = Server::bind_with(router, &config.common, config.port)
            .await?
            .register(SERVICE, &config.registry)?;
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

async fn ensure_indexes_later(restaurants: Restaurants) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        if restaurants.ensure_indexes().await.is_ok() {
            tracing::info!("indexes created");
            return;
        }
    }
}
