use clap::Parser;
use order_service::{Application, Config};
use shared::testing::TestDatabase;

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
    let amqp_url = std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
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

/// `GET /ready`, polled until `accept` holds for its status (or a few seconds pass).
pub async fn ready_until(address: &str, accept: impl Fn(u16) -> bool) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..50 {
        let response = client
            .get(format!("{address}/ready"))
            .send()
            .await
            .expect("sent");
        last = (
            response.status().as_u16(),
            response.json().await.expect("json"),
        );
        if accept(last.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}
