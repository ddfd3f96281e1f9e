use std::sync::Arc;

use messaging::{DatabaseAndBroker, topology};
use shared::{
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{
    Config, SERVICE, live::StreamSlots, progress::DeliveryProgress, routes, state::AppState,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/tracking");

/// tracking-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to PostgreSQL and RabbitMQ, applies the migrations, starts consuming the
    /// deliveries' events, and binds the port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let stores =
            DatabaseAndBroker::connect(SERVICE, &config.database, &config.broker, &MIGRATOR)
                .await?;
        let state = AppState {
            db: stores.database.pool().clone(),
            verifier: Arc::new(config.auth.verifier()),
            updates: tokio::sync::broadcast::channel(1024).0,
            snapshot_every: config.snapshot_every,
            streams: StreamSlots::new(usize::from(config.streams_per_user)),
            stream_idle: config.stream_idle_timeout,
        };
        let progress = DeliveryProgress {
            state: state.clone(),
            outbox: stores.outbox.clone(),
        };
        let workers = stores
            .broker
            .workers()
            .consume(topology::TRACKING_SERVICE, progress);
        let router =
            ServiceDefinition::new(SERVICE, Some("/tracking"), config.common.request_timeout)
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
