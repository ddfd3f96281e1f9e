use std::sync::Arc;

use futures::future::try_join_all;
use shared::{
    amqp::Amqp,
    health::{Checks, Dependency},
    postgres::Database,
    server::{Server, StartupError},
    service::ServiceDefinition,
    upstream::http_client,
};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{
    Config, SERVICE,
    catalog::Catalog,
    routes,
    shards::{Shard, Shards, tag},
    state::AppState,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/orders");

/// order-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to every shard and the broker, migrates the shards that answer (the others
    /// are migrated in the background once they do) and binds the port. A shard that is
    /// down does not stop start-up: `/ready` names it.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let shards: Vec<(String, Database)> = config
            .order_shards
            .0
            .iter()
            .map(|spec| {
                let database =
                    Database::connect_lazy(spec.options.clone(), config.shard_max_connections);
                (spec.name.clone(), database)
            })
            .collect();
        try_join_all(
            shards
                .iter()
                .map(|(_, database)| database.migrate(&MIGRATOR)),
        )
        .await?;
        let amqp = Amqp::start(&config.amqp.amqp_url, SERVICE);
        let readiness = shards
            .iter()
            .fold(Checks::new(), |checks, (name, database)| {
                checks.with(
                    format!("shard-{name}"),
                    Dependency::Postgres(database.clone()),
                )
            })
            .with("rabbitmq", Dependency::Amqp(amqp.clone()));
        let client = http_client();
        let state = AppState {
            shards: Arc::new(Shards(
                shards
                    .into_iter()
                    .map(|(name, database)| Shard {
                        tag: tag(&name),
                        name,
                        database,
                    })
                    .collect(),
            )),
            catalog: Catalog::new(
                &config.restaurant_service_url,
                client.clone(),
                config.upstream_timeout,
            ),
            verifier: Arc::new(config.auth.verifier(client)),
        };
        let router =
            ServiceDefinition::new(SERVICE, Some("/orders"), config.common.request_timeout)
                .api(routes::router(state), routes::ApiDoc::openapi())
                .readiness(readiness)
                .into_router();
        let server = Server::bind_with(router, &config.common, config.port)
            .await?
            .closing_broker(amqp);
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
