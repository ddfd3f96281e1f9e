use shared::{
    health::{Checks, Dependency},
    postgres::Database,
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{Config, SERVICE, routes};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/auth");

/// auth-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to PostgreSQL, applies the migrations and binds the configured port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let database = Database::connect_lazy(
            config.database.database_url.clone(),
            config.database.database_max_connections,
        );
        database.migrate(&MIGRATOR).await?;
        let state = routes::AppState {
            db: database.pool().clone(),
        };
        let router = ServiceDefinition::new(SERVICE, Some("/auth"), config.common.request_timeout)
            .api(routes::router(state), routes::ApiDoc::openapi())
            .readiness(Checks::new().with("postgres", Dependency::Postgres(database)))
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
