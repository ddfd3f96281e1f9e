//! The store set most services have: one PostgreSQL database and the RabbitMQ broker.

use sqlx::migrate::Migrator;

use crate::{
    amqp::Amqp,
    config::{AmqpArgs, PostgresArgs},
    health::{Checks, Dependency},
    postgres::Database,
    server::StartupError,
};

/// A service's PostgreSQL database, migrated, and its broker connection.
#[derive(Debug, Clone)]
pub struct PostgresAndBroker {
    /// The database, migrated (or migrating in the background while it is unreachable).
    pub database: Database,
    /// The broker connection, kept open by its supervisor.
    pub amqp: Amqp,
}

impl PostgresAndBroker {
    /// Connects both, applies `migrator`, and names the broker connection `service`.
    pub async fn connect(
        service: &str,
        postgres: &PostgresArgs,
        amqp: &AmqpArgs,
        migrator: &'static Migrator,
    ) -> Result<Self, StartupError> {
        let database = Database::connect_lazy(
            postgres.database_url.clone(),
            postgres.database_max_connections,
        );
        database.migrate(migrator).await?;
        let amqp = Amqp::start(&amqp.amqp_url, service);
        Ok(Self { database, amqp })
    }

    /// `postgres` and `rabbitmq`, both needed to be ready.
    pub fn readiness(&self) -> Checks {
        Checks::new()
            .with("postgres", Dependency::Postgres(self.database.clone()))
            .with("rabbitmq", Dependency::Amqp(self.amqp.clone()))
    }
}
