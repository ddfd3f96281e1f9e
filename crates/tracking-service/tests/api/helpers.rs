use std::ops::Deref;

use clap::Parser;
use shared::testing::{
    TestClient, TestDatabase, TestIssuer, amqp_url, conformance::Subject, postgres_server_url,
};
use tracking_service::{Application, Config};

/// tracking-service as the shared checks see it.
pub fn subject() -> Subject<fn(String, String) -> futures::future::BoxFuture<'static, String>> {
    Subject {
        service: "tracking-service",
        prefix: "/tracking",
        database: "tracking",
        spawn: |database_url, amqp_url| Box::pin(spawn_with(database_url, amqp_url)),
    }
}

/// Starts tracking-service on a free port against the given stores; returns its base URL.
pub async fn spawn_with(database_url: String, amqp_url: String) -> String {
    spawn_trusting(database_url, amqp_url, "http://127.0.0.1:1/jwks".to_owned()).await
}

/// Fewest events between two snapshots in tests, so that snapshots are exercised.
pub const SNAPSHOT_EVERY: &str = "3";

/// As `spawn_with`, trusting the tokens of the issuer at `jwks_url`.
pub async fn spawn_trusting(database_url: String, amqp_url: String, jwks_url: String) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "tracking-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        &database_url,
        "--amqp-url",
        &amqp_url,
        "--auth-jwks-url",
        &jwks_url,
        "--snapshot-every",
        SNAPSHOT_EVERY,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The service on a fresh database; its client calls it (`app.get(…)`, `app.user(…)`).
pub struct TestApp {
    pub api: TestClient,
    pub database: TestDatabase,
}

impl Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.api
    }
}

/// tracking-service on a fresh database, trusting a test token issuer.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "tracking").await;
    let issuer = TestIssuer::start().await;
    let address = spawn_trusting(database.url(), amqp_url(), issuer.jwks_url.clone()).await;
    TestApp {
        api: TestClient::new(address, issuer),
        database,
    }
}
