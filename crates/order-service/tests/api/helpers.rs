use clap::Parser;
use order_service::{Application, Config};
use shared::testing::{TestDatabase, amqp_url};

/// The three PostgreSQL servers that hold shards A, B and C (`TEST_ORDER_SHARD_SERVERS`,
/// comma-separated, else the ones the provisioning step starts on 5433-5435).
pub fn shard_servers() -> Vec<String> {
    std::env::var("TEST_ORDER_SHARD_SERVERS")
        .unwrap_or_else(|_| {
            (5433..=5435)
                .map(|port| format!("postgres://postgres@127.0.0.1:{port}/postgres"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A fresh database on each of the three shard servers.
pub async fn shard_databases() -> Vec<TestDatabase> {
    let mut databases = Vec::new();
    for server in shard_servers() {
        databases.push(TestDatabase::create(&server, "orders").await);
    }
    databases
}

/// The `ORDER_SHARDS` value for the given URLs, named a, b, c, …
pub fn shard_map(urls: &[String]) -> String {
    urls.iter()
        .zip('a'..)
        .map(|(url, name)| format!("{name}={url}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts order-service on a free port with the given shard map; returns its base URL.
pub async fn spawn_with_shards(order_shards: &str) -> String {
    shared::telemetry::init_for_tests();
    let amqp_url = amqp_url();
    let config = Config::try_parse_from([
        "order-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--order-shards",
        order_shards,
        "--amqp-url",
        &amqp_url,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}
