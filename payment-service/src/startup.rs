use std::sync::Arc;

use messaging::{DatabaseAndBroker, topology};
use shared::{
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{Config, SERVICE, commands::PaymentCommands, routes, state::AppState};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/payments");

/// payment-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to PostgreSQL and RabbitMQ, applies the migrations, starts the outbox relay
    /// and the consumer of the saga's payment commands, and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let stores =
            DatabaseAndBroker::connect(SERVICE, &config.database, &config.broker, &MIGRATOR)
                .await?;
        let commands = PaymentCommands {
            outbox: stores.outbox.clone(),
        };
        let workers = stores
            .broker
            .workers()
            .relay(&stores.outbox)
            .consume(topology::PAYMENT_SERVICE, commands);
        let state = AppState {
            db: stores.database.pool().clone(),
            outbox: stores.outbox.clone(),
            verifier: Arc::new(config.auth.verifier()),
        };
        let router =
            ServiceDefinition::new(SERVICE, Some("/payments"), config.common.request_timeout)
                .api(routes::router(state), routes::ApiDoc::openapi())
                .readiness(stores.readiness())
                .into_router();
        let server = Server::bind_with(router, &config.common, config.port)
            .await?
            .after_serving(workers.shutdown());
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
