//! A fresh database with the messaging tables, a broker namespace of the test's own, and a
//! handler that records what it is given.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use lapin::{BasicProperties, message::BasicGetMessage};
use messaging::{
    Envelope, Failure, Handler, Message, Outbox, enqueue,
    testing::TestBroker,
    topology::{Exchange, QueueSpec},
};
use shared::testing::{TestDatabase, postgres_server_url};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The queue the tests consume: every `probe.*` event and command.
pub const PROBE: QueueSpec = QueueSpec {
    name: "probe",
    bindings: &[
        (Exchange::DomainEvents, "probe.#"),
        (Exchange::SagaCommands, "probe.#"),
    ],
};

/// One test's stores.
pub struct TestStores {
    pub broker: TestBroker,
    pub _database: TestDatabase,
    pub pool: PgPool,
    pub outbox: Outbox,
}

impl TestStores {
    /// A database with the outbox, the processed-message marks and an `effects` table (one
    /// row per application of a message, so that applying one twice would show).
    pub async fn new() -> Self {
        let database = TestDatabase::create(&postgres_server_url(), "messaging").await;
        let pool = PgPool::connect_with(database.options())
            .await
            .expect("the test database");
        for migration in [
            include_str!("../../../migrations/payments/0001_messaging.sql"),
            include_str!("../../../migrations/payments/0004_outbox_set_aside.sql"),
        ] {
            sqlx::raw_sql(migration)
                .execute(&pool)
                .await
                .expect("the messaging tables");
        }
        sqlx::raw_sql("CREATE TABLE effects (message_id uuid NOT NULL, kind text NOT NULL)")
            .execute(&pool)
            .await
            .expect("the effects table");
        let outbox = Outbox::new(pool.clone(), &format!("probe-{}", Uuid::now_v7().simple()));
        Self {
            broker: TestBroker::new().with_queue(PROBE),
            _database: database,
            pool,
            outbox,
        }
    }

    /// Declares the probe queue, so that what the relay sends to it is kept.
    pub async fn declare_probe(&self) {
        let (_connection, channel) = self.broker.channel().await;
        let topology = self.broker.topology();
        topology.declare(&channel).await.expect("the topology");
        topology
            .declare_queue(&channel, &PROBE)
            .await
            .expect("the probe queue");
    }

    /// Publishes `body` as an event routed by `key`, as a foreign publisher would.
    pub async fn publish(&self, key: &str, body: &[u8]) {
        self.broker
            .publish(
                Exchange::DomainEvents,
                key,
                body,
                BasicProperties::default(),
            )
            .await;
    }

    /// The messages in the probe queue's dead-letter queue, waiting up to `limit` for `count`.
    pub async fn dead_letters(&self, count: usize, limit: Duration) -> Vec<BasicGetMessage> {
        let queue = self.broker.topology().dead_letters(&PROBE);
        self.broker.drain(&queue, count, limit).await
    }

    /// Writes one `probe.happened` event about `aggregate` in a transaction of its own.
    pub async fn announce(&self, aggregate: &str, n: usize) -> Uuid {
        let mut transaction = self.pool.begin().await.expect("a transaction");
        let id = enqueue(
            &mut transaction,
            &Message::event("probe.happened", aggregate, serde_json::json!({ "n": n })),
        )
        .await
        .expect("enqueued");
        transaction.commit().await.expect("committed");
        self.outbox.committed();
        id
    }

    /// How many times messages were applied, and how many distinct ones.
    pub async fn effects(&self) -> (i64, i64) {
        sqlx::query_as("SELECT count(*), count(DISTINCT message_id) FROM effects")
            .fetch_one(&self.pool)
            .await
            .expect("counted")
    }

    /// Waits up to `limit` for `count` applications.
    pub async fn wait_for_effects(&self, count: i64, limit: Duration) -> (i64, i64) {
        let deadline = Instant::now() + limit;
        loop {
            let effects = self.effects().await;
            if effects.0 >= count || Instant::now() >= deadline {
                return effects;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What the recording handler does with each message.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    Succeed,
    /// Fails this many times with a retryable failure, then succeeds.
    FailFirst(u32),
    AlwaysRetry,
    Reject,
    /// Finds its store unreachable this many times, then succeeds.
    UnavailableFirst(u32),
}

/// Applies messages as the plan says and counts the calls per message.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub outbox: Outbox,
    pub plan: Plan,
    pub calls: Arc<Mutex<HashMap<Uuid, u32>>>,
    /// The trace id current while each message was handled.
    pub traces: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn new(outbox: &Outbox, plan: Plan) -> Self {
        Self {
            outbox: outbox.clone(),
            plan,
            calls: Arc::default(),
            traces: Arc::default(),
        }
    }

    pub fn calls_of(&self, id: Uuid) -> u32 {
        self.calls
            .lock()
            .expect("not poisoned")
            .get(&id)
            .copied()
            .unwrap_or(0)
    }
}

impl Handler for Recorder {
    fn outbox(&self, _message: &Envelope) -> Result<&Outbox, Failure> {
        Ok(&self.outbox)
    }

    async fn handle(
        &self,
        transaction: &mut PgConnection,
        message: &Envelope,
    ) -> Result<(), Failure> {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let trace_id = tracing::Span::current()
            .context()
            .span()
            .span_context()
            .trace_id()
            .to_string();
        self.traces.lock().expect("not poisoned").push(trace_id);
        let call = {
            let mut calls = self.calls.lock().expect("not poisoned");
            let count = calls.entry(message.id).or_default();
            *count += 1;
            *count
        };
        match self.plan {
            Plan::FailFirst(failures) if call <= failures => {
                return Err(Failure::Retry("not yet".into()));
            }
            Plan::AlwaysRetry => return Err(Failure::Retry("always failing".into())),
            Plan::Reject => return Err(Failure::Reject("never applicable".into())),
            Plan::UnavailableFirst(failures) if call <= failures => {
                return Err(Failure::Unavailable("the store is away".into()));
            }
            Plan::Succeed | Plan::FailFirst(_) | Plan::UnavailableFirst(_) => {}
        }
        sqlx::query("INSERT INTO effects (message_id, kind) VALUES ($1, $2)")
            .bind(message.id)
            .bind(&message.kind)
            .execute(transaction)
            .await?;
        Ok(())
    }
}

/// A string header of a message taken from a queue.
pub fn header(message: &BasicGetMessage, name: &str) -> Option<String> {
    messaging::trace::from_amqp(message.delivery.properties.headers().as_ref())
        .get(name)
        .cloned()
}

/// An integer header of a message taken from a queue.
pub fn int_header(message: &BasicGetMessage, name: &str) -> Option<i64> {
    match message
        .delivery
        .properties
        .headers()
        .as_ref()?
        .inner()
        .get(name)?
    {
        lapin::types::AMQPValue::LongLongInt(n) => Some(*n),
        _ => None,
    }
}
