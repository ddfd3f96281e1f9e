//! A service with one PostgreSQL database that uses the broker, put together in one piece:
//! its settings, its stores connected and migrated, its outbox relayed and its queue
//! consumed, its API bound with readiness on both stores (and its queue's dead letters for
//! operators), and its workers stopped in order once serving stops.

use std::sync::Arc;

use axum::Router;
use clap::Args;
use shared::{
    auth::Verifier,
    config::{AuthArgs, CommonArgs, PostgresArgs},
    registry::RegistryArgs,
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use sqlx::migrate::Migrator;

use crate::{
    broker::Workers,
    config::BrokerArgs,
    consumer::Handler,
    dead_letters::{self, DeadLetters},
    stores::DatabaseAndBroker,
    topology::QueueSpec,
};

/// The settings of such a service, flattened into its configuration beside its port; the
/// binary names its default database with `mut_arg("database_url", …)`.
#[derive(Debug, Clone, Args)]
pub struct BrokeredServiceArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub database: PostgresArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// A service on a database and the broker, connected but not yet serving.
#[derive(Debug)]
pub struct BrokeredService {
    name: &'static str,
    prefix: &'static str,
    common: CommonArgs,
    registry: RegistryArgs,
    stores: DatabaseAndBroker,
    workers: Workers,
    dead_letters: Option<(QueueSpec, Arc<Verifier>)>,
}

impl BrokeredService {
    /// Connects the database (migrating it with `migrator`) and the broker of the binary
    /// `name`, whose API lives under `prefix`. Neither store being down stops start-up.
    pub async fn connect(
        name: &'static str,
        prefix: &'static str,
        args: &BrokeredServiceArgs,
        migrator: &'static Migrator,
    ) -> Result<Self, StartupError> {
        let stores =
            DatabaseAndBroker::connect(name, &args.database, &args.broker, migrator).await?;
        Ok(Self {
            name,
            prefix,
            common: args.common.clone(),
            registry: args.registry.clone(),
            workers: stores.broker.workers(),
            stores,
            dead_letters: None,
        })
    }

    /// The database, its outbox and the broker, for the API's state and the consumers.
    pub fn stores(&self) -> &DatabaseAndBroker {
        &self.stores
    }

    /// Relays the database's outbox to the broker.
    pub fn relay(mut self) -> Self {
        self.workers = self.workers.relay(&self.stores.outbox);
        self
    }

    /// Consumes `queue` with `handler`.
    pub fn consume<H: Handler>(mut self, queue: QueueSpec, handler: H) -> Self {
        self.workers = self.workers.consume(queue, handler);
        self
    }

    /// Serves `queue`'s dead letters to operators under the API's prefix
    /// (`{prefix}/admin/dead-letters`, see [`dead_letters::api`]), checking their tokens with
    /// `verifier`, and documents them.
    pub fn dead_letters(mut self, queue: QueueSpec, verifier: Arc<Verifier>) -> Self {
        self.dead_letters = Some((queue, verifier));
        self
    }

    /// Binds `port` for `api` (state applied), documented by `openapi`, beside the
    /// operational endpoints (and the dead letters, if asked for); ready when both stores
    /// are. Once serving stops, the workers stop in order (see [`Workers::shutdown`]).
    pub async fn bind(
        self,
        port: u16,
        mut api: Router,
        mut openapi: utoipa::openapi::OpenApi,
    ) -> Result<Server, StartupError> {
        if let Some((queue, verifier)) = self.dead_letters {
            let letters = DeadLetters::of(&self.stores.broker, queue);
            let (routes, document) = dead_letters::api(self.prefix, letters, verifier);
            api = api.merge(routes);
            openapi.merge(document);
        }
        let router =
            ServiceDefinition::new(self.name, Some(self.prefix), self.common.request_timeout)
                .api(api, openapi)
                .readiness(self.stores.readiness())
                .into_router();
        let server = Server::bind_with(router, &self.common, port)
            .await?
            .register(self.name, &self.registry)?
            .after_serving(self.workers.shutdown());
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    #[command(mut_arg("database_url", |arg| arg.default_value("postgres://postgres@127.0.0.1/sample")))]
    struct Sample {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[command(flatten)]
        service: BrokeredServiceArgs,
    }

    #[test]
    fn the_binary_names_its_database_and_every_other_setting_has_its_default() {
        let sample = Sample::try_parse_from(["sample"]).expect("the defaults parse");
        let service = sample.service;
        assert_eq!(sample.port, 3000);
        assert_eq!(service.database.database_url.get_database(), Some("sample"));
        assert_eq!(service.broker.amqp_prefix, "");
        assert_eq!(service.auth.token_audience, "food-delivery");
        assert_eq!(service.common.request_timeout.as_secs(), 30);
    }
}
