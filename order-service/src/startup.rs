use std::sync::Arc;

use futures::future::try_join_all;
use messaging::{
    Broker, Outbox,
    dead_letters::{self, DeadLetters},
    topology,
};
use shared::{
    health::Checks,
    postgres::Database,
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{
    catalog::Catalog,
    config::{Config, SERVICE},
    routes,
    saga::{self, SagaPolicy, replies::OrderMessages, timer},
    shards::{Shard, Shards, tag},
    state::AppState,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/orders");

/// order-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to every shard and the broker, migrates the shards that answer (the others
    /// are migrated in the background once they do), starts each shard's outbox relay and
    /// saga clock and the consumer of the saga's replies, and binds the port. A shard that
    /// is down does not stop start-up: `/ready` names it.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        saga::metrics::describe();
        let shards: Vec<Shard> = config
            .order_shards
            .0
            .iter()
            .map(|spec| {
                let database =
                    Database::connect_lazy(spec.options.clone(), config.shard_max_connections);
                Shard {
                    tag: tag(&spec.name),
                    outbox: Outbox::new(database.pool().clone(), &format!("shard-{}", spec.name)),
                    name: spec.name.clone(),
                    database,
                }
            })
            .collect();
        try_join_all(shards.iter().map(|shard| shard.database.migrate(&MIGRATOR))).await?;
        let shards = Arc::new(Shards(shards));
        let broker = Broker::start(&config.broker, SERVICE);
        let policy = SagaPolicy {
            step_timeout: config.saga_step_timeout,
            attempts: config.saga_step_attempts,
            cancel_wait: config.cancel_wait,
        };
        let mut workers = broker.workers().consume(
            topology::ORDER_SERVICE,
            OrderMessages {
                shards: shards.clone(),
                policy,
            },
        );
        for shard in &shards.0 {
            let (clock, connection) = (shard.clone(), broker.connection().clone());
            workers = workers
                .relay(&shard.outbox)
                .spawn(move |stop| timer::watch(clock, policy, connection, stop));
        }
        let readiness = shards
            .0
            .iter()
            .fold(Checks::new(), |checks, shard| {
                checks.with(format!("shard-{}", shard.name), shard.database.clone())
            })
            .with("rabbitmq", broker.connection().clone());
        let state = AppState {
            shards,
            catalog: Catalog::new(
                &config.restaurant_service_url,
                reqwest::Client::new(),
                config.upstream_timeout,
            ),
            verifier: Arc::new(config.auth.verifier()),
            saga: policy,
            broker: broker.clone(),
        };
        let (dead_letter_routes, dead_letter_doc) = dead_letters::api(
            "/orders",
            DeadLetters::of(&broker, topology::ORDER_SERVICE),
            state.verifier.clone(),
        );
        let mut openapi = routes::ApiDoc::openapi();
        openapi.merge(dead_letter_doc);
        let router =
            ServiceDefinition::new(SERVICE, Some("/orders"), config.common.request_timeout)
                .api(routes::router(state).merge(dead_letter_routes), openapi)
                .readiness(readiness)
                .into_router();
        let server = Server::bind_with(router, &config.common, config.port)
            .await?
            .register(SERVICE, &config.registry)?
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
