use std::ops::Deref;

use clap::Parser;
use messaging::{
    Envelope,
    testing::{TestBroker, in_namespace, service_args},
    topology::Exchange,
};
use shared::testing::{
    TestClient, TestDatabase, TestIssuer, amqp_url,
    conformance::{Guard, Subject},
    postgres_server_url,
};
use tracking_service::{Application, Config};

type Spawn = fn(String, String) -> futures::future::BoxFuture<'static, (String, Guard)>;

/// tracking-service as the shared checks see it.
pub fn subject() -> Subject<Spawn> {
    Subject {
        service: "tracking-service",
        prefix: "/tracking",
        database: "tracking",
        spawn: |database_url, amqp_url| {
            Box::pin(in_namespace(amqp_url, |broker| {
                spawn_trusting(database_url, broker, "http://127.0.0.1:1/jwks")
            }))
        },
    }
}

/// Fewest events between two snapshots in tests, so that snapshots are exercised.
pub const SNAPSHOT_EVERY: &str = "3";

/// Starts tracking-service on a free port against the given database and broker namespace
/// (`broker`: its flags), trusting the tokens of the issuer at `jwks_url`; returns its URL.
pub async fn spawn_trusting(database_url: String, broker: Vec<String>, jwks_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let mut args = service_args("tracking-service", &database_url, jwks_url, broker);
    args.extend(["--snapshot-every", SNAPSHOT_EVERY].map(str::to_owned));
    let config = Config::try_parse_from(args).expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The service on a fresh database and broker namespace; its client calls it
/// (`app.get(…)`, `app.user(…)`), and `announce` publishes delivery events to it.
pub struct TestApp {
    pub api: TestClient,
    pub database: TestDatabase,
    pub broker: TestBroker,
}

impl Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.api
    }
}

/// tracking-service on a fresh database, trusting a test token issuer.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// As `spawn_app`, with more flags.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "tracking").await;
    let issuer = TestIssuer::start().await;
    let broker = TestBroker::new();
    let mut flags = broker.flags(&amqp_url());
    flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
    let address = spawn_trusting(database.url(), flags, &issuer.jwks_url).await;
    TestApp {
        api: TestClient::new(address, issuer),
        database,
        broker,
    }
}

impl TestApp {
    /// Publishes a delivery event, as delivery-service would; returns it.
    pub async fn announce(&self, kind: &str, payload: serde_json::Value) -> Envelope {
        let order = payload["order_id"].as_str().unwrap_or_default().to_owned();
        let event = messaging::testing::envelope(kind, order, payload);
        self.broker.send(Exchange::DomainEvents, &event).await;
        event
    }
}
