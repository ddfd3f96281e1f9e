//! The stores of a service with one PostgreSQL database that uses the broker, connected in
//! one step: the database (migrated), its outbox, and the broker.

use shared::{config::PostgresArgs, health::Checks, postgres::Database, server::StartupError};
use sqlx::migrate::Migrator;

use crate::{broker::Broker, config::BrokerArgs, outbox::Outbox};

/// A database, its outbox and the broker.
#[derive(Debug, Clone)]
pub struct DatabaseAndBroker {
    /// The database, migrated (or migrating in the background while it is unreachable).
    pub database: Database,
    /// The database's outbox, named after the database in metrics.
    pub outbox: Outbox,
    /// The broker, connecting in the background.
    pub broker: Broker,
}

impl DatabaseAndBroker {
    /// Connects both, applies `migrator`, and names the broker connection `service`.
    pub async fn connect(
        service: &str,
        postgres: &PostgresArgs,
        broker: &BrokerArgs,
        migrator: &'static Migrator,
    ) -> Result<Self, StartupError> {
        let database = Database::connect_lazy(
            postgres.database_url.clone(),
            postgres.database_max_connections,
        );
        database.migrate(migrator).await?;
        let label = postgres.database_url.get_database().unwrap_or(service);
        let outbox = Outbox::new(database.pool().clone(), label);
        Ok(Self {
            database,
            outbox,
            broker: Broker::start(broker, service),
        })
    }

    /// `postgres` and `rabbitmq`, both needed to be ready.
    pub fn readiness(&self) -> Checks {
        Checks::new()
            .with("postgres", self.database.clone())
            .with("rabbitmq", self.broker.connection().clone())
    }
}
