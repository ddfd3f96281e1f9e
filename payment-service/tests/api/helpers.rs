use std::ops::Deref;

use std::time::Duration;

use clap::Parser;
use messaging::{
    Envelope,
    testing::{REPLIES, TestBroker, envelope, in_namespace, service_args},
    topology::Exchange,
};
use payment_service::{Application, Config};
use shared::testing::{
    TestClient, TestDatabase, TestIssuer, amqp_url,
    conformance::{Guard, Subject},
    postgres_server_url,
};
use uuid::Uuid;

type Spawn = fn(String, String) -> futures::future::BoxFuture<'static, (String, Guard)>;

/// payment-service as the shared checks see it.
pub fn subject() -> Subject<Spawn> {
    Subject {
        service: "payment-service",
        prefix: "/payments",
        database: "payments",
        spawn: |database_url, amqp_url| {
            Box::pin(in_namespace(amqp_url, |broker| {
                spawn_trusting(database_url, broker, "http://127.0.0.1:1/jwks")
            }))
        },
    }
}

/// Starts payment-service on a free port against the given database and broker namespace
/// (`broker`: its flags), trusting the tokens of the issuer at `jwks_url`; returns its URL.
pub async fn spawn_trusting(database_url: String, broker: Vec<String>, jwks_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let args = service_args("payment-service", &database_url, jwks_url, broker);
    let config = Config::try_parse_from(args).expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The service on a fresh database and broker namespace; its client calls it
/// (`app.get(…)`, `app.user(…)`), and `command` sends it saga commands.
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

/// payment-service on a fresh database, trusting a test token issuer.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "payments").await;
    let issuer = TestIssuer::start().await;
    let mut broker = TestBroker::new();
    broker.declare(REPLIES).await;
    let address = spawn_trusting(database.url(), broker.flags(&amqp_url()), &issuer.jwks_url).await;
    TestApp {
        api: TestClient::new(address, issuer),
        database,
        broker,
    }
}

impl TestApp {
    /// Sum of debits minus sum of credits over the whole ledger (0 when it balances).
    pub async fn imbalance(&self) -> i64 {
        let pool = sqlx::PgPool::connect_with(self.database.options())
            .await
            .expect("connect");
        sqlx::query_scalar(
            "SELECT COALESCE(SUM(CASE direction WHEN 'debit' THEN amount ELSE -amount END), 0)::bigint FROM ledger_entries",
        )
        .fetch_one(&pool)
        .await
        .expect("sum")
    }

    /// Publishes a saga command about `order`, as order-service would; returns it.
    pub async fn command(&self, kind: &str, order: Uuid, payload: serde_json::Value) -> Envelope {
        let command = envelope(kind, order, payload);
        self.deliver(&command).await;
        command
    }

    /// Publishes `command` (again, if it was sent before).
    pub async fn deliver(&self, command: &Envelope) {
        self.broker.send(Exchange::SagaCommands, command).await;
    }

    /// The saga replies sent so far, waiting up to ten seconds for `count`.
    pub async fn replies(&self, count: usize) -> Vec<Envelope> {
        self.broker
            .envelopes(&REPLIES, count, Duration::from_secs(10))
            .await
    }
}
