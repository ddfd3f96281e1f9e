//! The stores of one `scripts/dev` run, named with its prefix and dropped afterwards.

use std::{process::Command, time::Duration};

use messaging::{RetryDelays, testing::TestBroker};
use shared::testing::{TestMongo, TestRegistry, run_to_end};
use sqlx::{Connection, Executor, PgConnection};

/// Where `scripts/dev` finds the stores: their usual ports, since `command` passes on neither
/// FD_SHARD_PORT nor FD_MONGO_PORT.
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const SHARD_PORTS: [u16; 3] = [5433, 5434, 5435];
const MONGODB: &str = "mongodb://127.0.0.1:27017/?directConnection=true";
/// The retry delays the script leaves at their default, which name the broker's retry queues.
const RETRY_DELAYS: [u64; 3] = [1, 5, 30];

/// The stores of one run, named with its prefix: dropped when this is dropped.
pub(super) struct Stores {
    pub(super) prefix: String,
    _mongo: TestMongo,
    _broker: TestBroker,
    _registry: TestRegistry,
}

impl Stores {
    pub(super) fn new() -> Self {
        let prefix = format!("test_dev_{}_", uuid::Uuid::now_v7().simple());
        Self {
            _mongo: TestMongo {
                url: MONGODB.to_owned(),
                name: format!("{prefix}restaurants"),
            },
            _broker: TestBroker::with_prefix(
                &prefix,
                RetryDelays(RETRY_DELAYS.map(Duration::from_secs).to_vec()),
            ),
            _registry: TestRegistry::with_prefix(&prefix),
            prefix,
        }
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        let mut databases: Vec<(String, String)> = ["auth", "payments", "delivery", "tracking"]
            .iter()
            .map(|name| (POSTGRES.to_owned(), format!("{}{name}", self.prefix)))
            .collect();
        for port in SHARD_PORTS {
            databases.push((
                format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                format!("{}orders", self.prefix),
            ));
        }
        let prefix = self.prefix.clone();
        run_to_end(async move {
            for (server, name) in databases {
                let Ok(mut connection) = PgConnection::connect(&server).await else {
                    eprintln!("could not drop database {name}; it lingers until removed by hand");
                    continue;
                };
                let _ = connection
                    .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await;
                // Its service's role, which owned nothing else (scripts/provision).
                let service = name.trim_start_matches(&prefix).trim_end_matches('s');
                let role = format!("{prefix}{service}_service");
                let _ = connection
                    .execute(format!(r#"DROP ROLE IF EXISTS "{role}""#).as_str())
                    .await;
            }
        });
        // The stack's users of the machine's Redis and RabbitMQ, named after its prefix.
        for user in ["gateway", "registry", "exporter"] {
            let user = format!("{}{user}", self.prefix);
            let _ = Command::new("redis-cli")
                .args(["ACL", "DELUSER", &user])
                .output();
        }
        for service in [
            "auth", "order", "payment", "delivery", "tracking", "gateway",
        ] {
            let user = format!("{}{service}", self.prefix);
            let user = if service == "gateway" {
                user
            } else {
                format!("{user}-service")
            };
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "delete_user", &user])
                .output();
        }
    }
}
