use clap::Parser;
use reqwest::Response;
use serde_json::Value;
use shared::{
    auth::Role,
    testing::{TestDatabase, TestIssuer, amqp_url, conformance::Subject, postgres_server_url},
};
use tracking_service::{Application, Config};
use uuid::Uuid;

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

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub issuer: TestIssuer,
    pub database: TestDatabase,
}

/// tracking-service on a fresh database, trusting a test token issuer.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "tracking").await;
    let issuer = TestIssuer::start().await;
    let address = spawn_trusting(database.url(), amqp_url(), issuer.jwks_url.clone()).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        issuer,
        database,
    }
}

impl TestApp {
    /// A token for a new user with `roles`.
    pub fn user(&self, roles: &[Role]) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (id, self.issuer.token(id, roles))
    }

    /// `POST path` with a token, an idempotency key and a JSON body.
    pub async fn post(&self, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
    }
}

impl TestApp {}
