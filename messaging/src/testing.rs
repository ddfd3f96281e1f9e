//! For tests: a namespace of its own on the shared broker, removed when the test ends, and
//! a way to read what reached a queue.

use std::time::{Duration, Instant};

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueueDeleteOptions},
};

use shared::testing::conformance::Guard;

use crate::{
    config::{BrokerArgs, RetryDelays},
    envelope::Envelope,
    topology::{Exchange, GATEWAY_REVOCATIONS, QUEUES, QueueSpec, Topology},
};

/// The broker tests use (`TEST_AMQP_URL`, else the local one).
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The test broker's URL through a proxy of its own that the test can cut or pause.
pub async fn proxied_amqp_url() -> (String, shared::testing::TcpProxy) {
    let uri: lapin::uri::AMQPUri = amqp_url().parse().expect("a broker URL");
    let broker = tokio::net::lookup_host((uri.authority.host.as_str(), uri.authority.port))
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .expect("the broker's address");
    let proxy = shared::testing::TcpProxy::start(broker).await;
    let user = &uri.authority.userinfo;
    let url = format!(
        "amqp://{}:{}@127.0.0.1:{}/{}",
        user.username,
        user.password,
        proxy.port(),
        uri.vhost.replace('/', "%2f")
    );
    (url, proxy)
}

/// A connection to the test broker through a proxy the test can cut or pause, made as the
/// binaries make theirs.
pub async fn connect_through_proxy() -> (Connection, shared::testing::TcpProxy) {
    let (url, proxy) = proxied_amqp_url().await;
    let connection = Connection::connect(&url, crate::connection::properties("test-through-proxy"))
        .await
        .expect("connected through the proxy");
    (connection, proxy)
}

/// A queue of the tests' own that receives every saga reply.
pub const REPLIES: QueueSpec = QueueSpec {
    name: "test-replies",
    bindings: &[(Exchange::SagaReplies, "#")],
};

/// A prefix of the test's own on the shared broker: every exchange and queue a binary
/// declares under it is deleted when this is dropped.
#[derive(Debug)]
pub struct TestBroker {
    /// The prefix, ending with a dot.
    pub prefix: String,
    /// The broker's URL.
    pub url: String,
    /// The retry delays the binaries under test are given.
    pub delays: RetryDelays,
    extra_queues: Vec<QueueSpec>,
}

impl TestBroker {
    /// A fresh prefix; binaries given [`TestBroker::args`] retry after 100 ms and 200 ms.
    pub fn new() -> Self {
        Self {
            prefix: format!("test-{}.", uuid::Uuid::now_v7().simple()),
            url: amqp_url(),
            delays: RetryDelays(vec![Duration::from_millis(100), Duration::from_millis(200)]),
            extra_queues: Vec::new(),
        }
    }

    /// The namespace `prefix` on the shared broker, whose binaries retry after `delays`:
    /// removed when this is dropped.
    pub fn with_prefix(prefix: &str, delays: RetryDelays) -> Self {
        Self {
            prefix: prefix.to_owned(),
            url: amqp_url(),
            delays,
            extra_queues: Vec::new(),
        }
    }

    /// Binaries given these settings retry after `delays` instead.
    pub fn with_delays(mut self, delays: RetryDelays) -> Self {
        self.delays = delays;
        self
    }

    /// Also deletes `queue` (one the test declares itself) at the end.
    pub fn with_queue(mut self, queue: QueueSpec) -> Self {
        self.extra_queues.push(queue);
        self
    }

    /// Settings for a binary under test: this prefix, quick retries, `url` as the broker.
    pub fn args_via(&self, url: &str) -> BrokerArgs {
        BrokerArgs {
            amqp_url: url.to_owned(),
            amqp_prefix: self.prefix.clone(),
            message_retry_delays: self.delays.clone(),
            consumer_prefetch: 32,
        }
    }

    /// Settings for a binary under test on the shared broker.
    pub fn args(&self) -> BrokerArgs {
        self.args_via(&self.url)
    }

    /// The same settings as command-line flags.
    pub fn flags(&self, url: &str) -> Vec<String> {
        let delays: Vec<String> = self
            .delays
            .0
            .iter()
            .map(|delay| humantime::format_duration(*delay).to_string())
            .collect();
        vec![
            "--amqp-url".into(),
            url.to_owned(),
            "--amqp-prefix".into(),
            self.prefix.clone(),
            "--message-retry-delays".into(),
            delays.join(","),
        ]
    }

    /// The names under this prefix.
    pub fn topology(&self) -> Topology {
        Topology::new(&self.prefix)
    }

    /// A channel of a connection of the test's own.
    pub async fn channel(&self) -> (Connection, Channel) {
        let connection = Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .expect("the test broker answers");
        let channel = connection.create_channel().await.expect("a channel");
        (connection, channel)
    }

    /// Declares the topology and `queue` (a queue of the test's own, deleted at the end).
    pub async fn declare(&mut self, queue: QueueSpec) {
        let (_connection, channel) = self.channel().await;
        let topology = self.topology();
        topology.declare(&channel).await.expect("the topology");
        topology
            .declare_queue(&channel, &queue)
            .await
            .expect("the test's queue");
        self.extra_queues.push(queue);
    }

    /// Publishes `body` to `exchange` (prefixed) with `properties`, as a foreign publisher
    /// would; waits for the broker's confirm.
    pub async fn publish(
        &self,
        exchange: Exchange,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) {
        let (_connection, channel) = self.channel().await;
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirms");
        self.topology()
            .declare(&channel)
            .await
            .expect("the topology declares");
        channel
            .basic_publish(
                &self.topology().exchange(exchange),
                routing_key,
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }

    /// Takes the messages waiting in queue `name` (prefixed already), waiting up to `limit`
    /// for at least `count` of them.
    pub async fn drain(
        &self,
        name: &str,
        count: usize,
        limit: Duration,
    ) -> Vec<lapin::message::BasicGetMessage> {
        let (_connection, channel) = self.channel().await;
        let deadline = Instant::now() + limit;
        let mut taken = Vec::new();
        loop {
            if let Ok(Some(message)) = channel.basic_get(name, BasicGetOptions::default()).await {
                let _ = message.delivery.acker.ack(BasicAckOptions::default()).await;
                taken.push(message);
                continue;
            }
            if taken.len() >= count || Instant::now() >= deadline {
                return taken;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes `envelope` to `exchange` with its type as routing key, as its sender would.
    pub async fn send(&self, exchange: Exchange, envelope: &Envelope) {
        let body = serde_json::to_vec(envelope).expect("an envelope serialises");
        self.publish(exchange, &envelope.kind, &body, BasicProperties::default())
            .await;
    }

    /// The envelopes that reached `queue`, waiting up to `limit` for `count` of them.
    pub async fn envelopes(
        &self,
        queue: &QueueSpec,
        count: usize,
        limit: Duration,
    ) -> Vec<Envelope> {
        self.drain(&self.topology().queue(queue), count, limit)
            .await
            .iter()
            .map(|message| Envelope::decode(&message.delivery.data).expect("an envelope"))
            .collect()
    }

    fn names(&self) -> (Vec<String>, Vec<String>) {
        let topology = self.topology();
        let mut queues = Vec::new();
        for queue in QUEUES
            .iter()
            .chain([&GATEWAY_REVOCATIONS])
            .chain(&self.extra_queues)
        {
            queues.push(topology.queue(queue));
            queues.push(topology.dead_letters(queue));
            for delay in &self.delays.0 {
                queues.push(topology.retry_queue(queue, *delay));
            }
        }
        let exchanges = Exchange::ALL
            .iter()
            .map(|exchange| topology.exchange(*exchange))
            .collect();
        (queues, exchanges)
    }
}

/// The flags a service under test gets, in order: its name, a loopback host and a free port,
/// its database, the token issuer to trust, then `broker` (its namespace's flags).
pub fn service_args(
    binary: &str,
    database_url: &str,
    jwks_url: &str,
    broker: Vec<String>,
) -> Vec<String> {
    let mut args: Vec<String> = [
        binary,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        database_url,
        "--auth-jwks-url",
        jwks_url,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(broker);
    args
}

/// For the checks every service shares: starts a service with `start` (given the flags of a
/// broker namespace of its own on `amqp_url`) and keeps the namespace as long as the check.
pub async fn in_namespace<F, Fut>(amqp_url: String, start: F) -> (String, Guard)
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: Future<Output = String>,
{
    let broker = TestBroker::new();
    let address = start(broker.flags(&amqp_url)).await;
    (address, Box::new(broker))
}

/// A new envelope of type `kind` about `aggregate`.
pub fn envelope(kind: &str, aggregate: impl ToString, payload: serde_json::Value) -> Envelope {
    Envelope {
        id: uuid::Uuid::now_v7(),
        kind: kind.to_owned(),
        occurred_at: chrono::Utc::now(),
        aggregate_id: aggregate.to_string(),
        payload,
    }
}

impl Default for TestBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let (queues, exchanges) = self.names();
        let url = self.url.clone();
        shared::testing::run_to_end(async move {
            let connection = Connection::connect(&url, ConnectionProperties::default())
                .await
                .ok()?;
            for queue in &queues {
                // A delete of what does not exist closes the channel: one each.
                if let Ok(channel) = connection.create_channel().await {
                    let _ = channel
                        .queue_delete(queue, QueueDeleteOptions::default())
                        .await;
                }
            }
            for exchange in &exchanges {
                if let Ok(channel) = connection.create_channel().await {
                    let _ = channel.exchange_delete(exchange, Default::default()).await;
                }
            }
            connection.close(200, "test over").await.ok()
        });
    }
}
