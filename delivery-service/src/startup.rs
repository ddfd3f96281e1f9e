use std::sync::Arc;

use messaging::{BrokeredService, topology};
use shared::server::{Server, StartupError};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{
    commands::ShippingCommands,
    config::{Config, SERVICE},
    routes,
    state::AppState,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/delivery");

/// delivery-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to PostgreSQL and RabbitMQ, applies the migrations, starts the outbox relay
    /// and the consumer of the saga's shipping commands, and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let service =
            BrokeredService::connect(SERVICE, "/delivery", &config.service, &MIGRATOR).await?;
        let outbox = service.stores().outbox.clone();
        let state = AppState {
            db: service.stores().database.pool().clone(),
            outbox: outbox.clone(),
            verifier: Arc::new(config.service.auth.verifier()),
        };
        let server = service
            .relay()
            .consume(topology::DELIVERY_SERVICE, ShippingCommands { outbox })
            .dead_letters(topology::DELIVERY_SERVICE, state.verifier.clone())
            .bind(
                config.port,
                routes::router(state),
                routes::ApiDoc::openapi(),
            )
            .await?;
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
