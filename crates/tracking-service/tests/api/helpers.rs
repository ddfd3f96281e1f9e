use clap::Parser;
use shared::testing::{TestDatabase, amqp_url, postgres_server_url};
use tracking_service::{Application, Config};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database: TestDatabase,
}

/// Starts tracking-service on a free port against a database of its own.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "tracking").await;
    let address = spawn_with(&database.url(), &amqp_url()).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        database,
    }
}

/// Starts tracking-service against the given stores, reachable or not; returns its base URL.
pub async fn spawn_with(database_url: &str, amqp_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "tracking-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        database_url,
        "--amqp-url",
        amqp_url,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is sent")
    }
}
