use std::sync::Arc;

use messaging::{BrokeredService, topology};
use shared::server::{Server, StartupError};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{
    config::{Config, SERVICE},
    live::StreamSlots,
    progress::DeliveryProgress,
    routes,
    state::AppState,
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
        let service =
            BrokeredService::connect(SERVICE, "/tracking", &config.service, &MIGRATOR).await?;
        let state = AppState {
            db: service.stores().database.pool().clone(),
            verifier: Arc::new(config.service.auth.verifier()),
            updates: tokio::sync::broadcast::channel(1024).0,
            snapshot_every: config.snapshot_every,
            streams: StreamSlots::new(usize::from(config.streams_per_user)),
            stream_idle: config.stream_idle_timeout,
        };
        let progress = DeliveryProgress {
            state: state.clone(),
            outbox: service.stores().outbox.clone(),
        };
        // It publishes nothing, so its outbox is not relayed: the consumer only marks there
        // what it has applied.
        let server = service
            .consume(topology::TRACKING_SERVICE, progress)
            .dead_letters(topology::TRACKING_SERVICE, state.verifier.clone())
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
