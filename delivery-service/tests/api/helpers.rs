use std::{ops::Deref, time::Duration};

use clap::Parser;
use delivery_service::{Application, Config};
use messaging::{
    Envelope,
    testing::{REPLIES, TestBroker, envelope, in_namespace, service_args},
    topology::{Exchange, QueueSpec},
};
use shared::{
    auth::Role,
    testing::{
        TestClient, TestDatabase, TestIssuer, amqp_url,
        conformance::{Guard, Subject},
        postgres_server_url,
    },
};
use uuid::Uuid;

type Spawn = fn(String, String) -> futures::future::BoxFuture<'static, (String, Guard)>;

/// delivery-service as the shared checks see it.
pub fn subject() -> Subject<Spawn> {
    Subject {
        service: "delivery-service",
        prefix: "/delivery",
        database: "delivery",
        spawn: |database_url, amqp_url| {
            Box::pin(in_namespace(amqp_url, |broker| {
                spawn_trusting(database_url, broker, "http://127.0.0.1:1/jwks")
            }))
        },
    }
}

/// Starts delivery-service on a free port against the given database and broker namespace
/// (`broker`: its flags), trusting the tokens of the issuer at `jwks_url`; returns its URL.
pub async fn spawn_trusting(database_url: String, broker: Vec<String>, jwks_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let args = service_args("delivery-service", &database_url, jwks_url, broker);
    let config = Config::try_parse_from(args).expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The queue where the tests read the shipments' events.
pub const EVENTS: QueueSpec = QueueSpec {
    name: "delivery-events",
    bindings: &[(Exchange::DomainEvents, "delivery.*")],
};

/// The service on a fresh database and broker namespace; its client calls it
/// (`app.get(…)`, `app.user(…)`), and `command` sends it saga commands.
pub struct TestApp {
    pub api: TestClient,
    pub broker: TestBroker,
    /// Dropped with the app: the database goes with it.
    _database: TestDatabase,
}

impl Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.api
    }
}

/// delivery-service on a fresh database, trusting a test token issuer.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "delivery").await;
    let issuer = TestIssuer::start().await;
    let mut broker = TestBroker::new();
    broker.declare(REPLIES).await;
    broker.declare(EVENTS).await;
    let address = spawn_trusting(database.url(), broker.flags(&amqp_url()), &issuer.jwks_url).await;
    TestApp {
        api: TestClient::new(address, issuer),
        broker,
        _database: database,
    }
}

impl TestApp {
    /// A courier registered, available, at (`lat`, `lon`); returns (id, token).
    pub async fn courier_at(&self, lat: f64, lon: f64) -> (Uuid, String) {
        let (id, token) = self.user(&[Role::Courier]);
        let registered = self
            .post(
                "/delivery/couriers",
                &token,
                "-",
                &serde_json::json!({"name": "Rider", "vehicle": "bicycle"}),
            )
            .await;
        assert_eq!(registered.status().as_u16(), 201);
        self.put(
            "/delivery/couriers/me/location",
            &token,
            &serde_json::json!({"lat": lat, "lon": lon}),
        )
        .await;
        self.put(
            "/delivery/couriers/me/availability",
            &token,
            &serde_json::json!({"available": true}),
        )
        .await;
        (id, token)
    }

    /// Publishes a saga command about `order`, as order-service would; returns it.
    pub async fn command(&self, kind: &str, order: Uuid, payload: serde_json::Value) -> Envelope {
        let command = envelope(kind, order, payload);
        self.broker.send(Exchange::SagaCommands, &command).await;
        command
    }

    /// The saga replies sent so far, waiting up to ten seconds for `count`.
    pub async fn replies(&self, count: usize) -> Vec<Envelope> {
        self.broker
            .envelopes(&REPLIES, count, Duration::from_secs(10))
            .await
    }

    /// The shipments' events published so far, waiting up to ten seconds for `count`.
    pub async fn events(&self, count: usize) -> Vec<Envelope> {
        self.broker
            .envelopes(&EVENTS, count, Duration::from_secs(10))
            .await
    }
}
