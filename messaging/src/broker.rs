//! A binary's link to the broker and the workers it runs on it: outbox relays and
//! consumers, started with the binary and stopped in order when it stops.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{BrokerArgs, RetryDelays},
    connection::Amqp,
    consumer::{Consumer, Handler},
    outbox::Outbox,
    relay::Relay,
    topology::{QueueSpec, Topology},
};

/// Longest the relays may take at shutdown to send what is left in their outboxes.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// The broker as one binary uses it. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct Broker {
    amqp: Amqp,
    topology: Topology,
    delays: RetryDelays,
    prefetch: u16,
    service: String,
}

impl Broker {
    /// Starts connecting in the background (a broker that is down does not stop start-up);
    /// the connection is named `service` in the broker's management UI.
    pub fn start(args: &BrokerArgs, service: &str) -> Self {
        Self {
            amqp: Amqp::start(&args.amqp_url, service),
            topology: Topology::new(&args.amqp_prefix),
            delays: args.message_retry_delays.clone(),
            prefetch: args.consumer_prefetch,
            service: service.to_owned(),
        }
    }

    /// The connection, for `/ready` and for publishing by hand.
    pub fn connection(&self) -> &Amqp {
        &self.amqp
    }

    /// The names on the broker.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// No workers yet.
    pub fn workers(&self) -> Workers {
        Workers {
            broker: self.clone(),
            stop_consuming: CancellationToken::new(),
            stop_relaying: CancellationToken::new(),
            consumers: Vec::new(),
            relays: Vec::new(),
        }
    }
}

/// The relays and consumers of one binary, running.
#[derive(Debug)]
pub struct Workers {
    broker: Broker,
    stop_consuming: CancellationToken,
    stop_relaying: CancellationToken,
    consumers: Vec<JoinHandle<()>>,
    relays: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts relaying `outbox` to the broker.
    pub fn relay(mut self, outbox: &Outbox) -> Self {
        let relay = Relay {
            outbox: outbox.clone(),
            amqp: self.broker.amqp.clone(),
            topology: self.broker.topology.clone(),
            service: self.broker.service.clone(),
        };
        self.relays
            .push(tokio::spawn(relay.run(self.stop_relaying.clone())));
        self
    }

    /// Starts consuming `queue` with `handler`.
    pub fn consume<H: Handler>(mut self, queue: QueueSpec, handler: H) -> Self {
        let broker = &self.broker;
        let consumer = Consumer {
            handler: Arc::new(handler),
            queue,
            amqp: broker.amqp.clone(),
            topology: broker.topology.clone(),
            delays: broker.delays.clone(),
            prefetch: broker.prefetch,
            service: broker.service.clone(),
        };
        self.consumers
            .push(tokio::spawn(consumer.run(self.stop_consuming.clone())));
        self
    }

    /// Runs `task` beside the consumers: it is given the token that stops them, and is
    /// awaited with them at shutdown.
    pub fn spawn<F>(mut self, task: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.consumers
            .push(tokio::spawn(task(self.stop_consuming.clone())));
        self
    }

    /// Stops in order: consumers take no more messages and finish those in hand (for up to
    /// ten seconds), then the relays send what is left in their outboxes (for up to ten
    /// seconds), then the connection closes.
    pub async fn shutdown(mut self) {
        self.stop_consuming.cancel();
        let consumers = futures::future::join_all(self.consumers.iter_mut());
        if tokio::time::timeout(FLUSH_LIMIT, consumers).await.is_err() {
            // A message whose store hangs would hold the exit for ever: unacknowledged, it
            // is delivered again to whoever consumes next.
            tracing::warn!("messages in hand did not finish in time; they will be delivered again");
            self.consumers.iter().for_each(JoinHandle::abort);
        }
        self.stop_relaying.cancel();
        let relays = futures::future::join_all(self.relays);
        if tokio::time::timeout(FLUSH_LIMIT, relays).await.is_err() {
            tracing::warn!(
                "the outbox relays did not finish in time; the rest is sent at the next start"
            );
        }
        self.broker.amqp.close().await;
    }
}
