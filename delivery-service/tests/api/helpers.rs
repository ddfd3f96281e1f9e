use std::{
    ops::Deref,
    time::{Duration, Instant},
};

use clap::Parser;
use delivery_service::{Application, Config};
use lapin::{BasicProperties, options::BasicPublishOptions};
use messaging::{
    Envelope,
    contracts::{OrderEvent, event},
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
use sqlx::PgPool;
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
/// (`app.get(…)`, `app.user(…)`), `command` sends it saga commands and `confirm` an order's
/// confirmation; `db` reads and writes its database behind its back.
pub struct TestApp {
    pub api: TestClient,
    pub broker: TestBroker,
    pub db: PgPool,
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
    let db = PgPool::connect_with(database.options())
        .await
        .expect("the test database answers");
    TestApp {
        api: TestClient::new(address, issuer),
        broker,
        db,
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

    /// Publishes `commands` at once, in this order, on one channel: the consumer gets them
    /// together and handles up to its prefetch of them concurrently.
    pub async fn burst(&self, commands: &[Envelope]) {
        let (_connection, channel) = self.broker.channel().await;
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirms");
        let exchange = self.broker.topology().exchange(Exchange::SagaCommands);
        let mut confirms = Vec::new();
        for command in commands {
            let body = serde_json::to_vec(command).expect("an envelope serialises");
            let options = BasicPublishOptions::default();
            let properties = BasicProperties::default();
            let published =
                channel.basic_publish(&exchange, &command.kind, options, &body, properties);
            confirms.push(published.await.expect("published"));
        }
        for confirm in confirms {
            confirm.await.expect("confirmed");
        }
    }

    /// Publishes `order.confirmed` for `order`, as order-service does once the payment is
    /// captured, and waits until the service has handled it; returns it.
    pub async fn confirm(&self, order: Uuid) -> Envelope {
        let confirmed = OrderEvent {
            order_id: order,
            customer_id: Uuid::now_v7(),
            restaurant_id: "r-1".into(),
            status: "CONFIRMED".into(),
            amount: 1200,
            currency: "EUR".into(),
            reason: None,
        };
        let payload = serde_json::to_value(confirmed).expect("an event serialises");
        let message = envelope(event::ORDER_CONFIRMED, order, payload);
        self.broker.send(Exchange::DomainEvents, &message).await;
        self.handled(&message).await;
        message
    }

    /// Waits up to thirty seconds until `message` has been handled (its effects committed).
    pub async fn handled(&self, message: &Envelope) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM processed_messages WHERE message_id = $1)",
            )
            .bind(message.id)
            .fetch_one(&self.db)
            .await
            .expect("processed_messages reads");
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} {} not handled in 30 s",
                message.kind,
                message.id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the store holds for `order`: its shipment's status, and whether its courier (if
    /// it has one) is busy.
    pub async fn stored(&self, order: Uuid) -> (String, bool) {
        sqlx::query_as(
            "SELECT s.status, coalesce(c.busy, false) FROM shipments s
             LEFT JOIN couriers c ON c.user_id = s.courier_id WHERE s.order_id = $1",
        )
        .bind(order)
        .fetch_one(&self.db)
        .await
        .expect("the order's shipment")
    }

    /// Waits up to thirty seconds until a session waits for a lock that session `holder`
    /// (a `pg_backend_pid()`) holds.
    pub async fn blocked_by(&self, holder: i32) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))",
            )
            .bind(holder)
            .fetch_one(&self.db)
            .await
            .expect("pg_stat_activity reads");
            if waiting {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nobody waited for session {holder} in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
