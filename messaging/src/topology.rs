//! Exchanges and queues: the platform's contract on the broker, declared by every binary
//! that uses it at start, idempotently, so that no message is published before the queue
//! that must keep it exists, whichever binary starts first.

use std::time::Duration;

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

/// The platform's exchanges, all durable topic exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// Facts: `<aggregate>.<event>` (`order.confirmed`, `delivery.picked_up`).
    DomainEvents,
    /// What the order saga asks of a participant (`payment.authorize`, `shipping.create`).
    SagaCommands,
    /// What a participant answers (`payment.authorized`, `shipping.failed`).
    SagaReplies,
}

impl Exchange {
    /// Every exchange.
    pub const ALL: [Self; 3] = [Self::DomainEvents, Self::SagaCommands, Self::SagaReplies];

    /// Its name, before any prefix.
    pub fn name(self) -> &'static str {
        match self {
            Self::DomainEvents => "domain.events",
            Self::SagaCommands => "saga.commands",
            Self::SagaReplies => "saga.replies",
        }
    }

    /// The exchange named `name` (unprefixed).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|exchange| exchange.name() == name)
    }

    /// Whether a message that reaches no queue is an error: a command or a reply that nobody
    /// would receive is held back and sent again, an event with no subscriber is not.
    pub fn must_route(self) -> bool {
        !matches!(self, Self::DomainEvents)
    }
}

/// A consuming service's queue and what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    /// Its name, before any prefix; also the consumer's name in `processed_messages`.
    pub name: &'static str,
    /// `(exchange, binding key)` pairs.
    pub bindings: &'static [(Exchange, &'static str)],
}

/// order-service: every saga reply, and the courier's steps (the assignment comes as the
/// shipping step's reply).
pub const ORDER_SERVICE: QueueSpec = QueueSpec {
    name: "order-service",
    bindings: &[
        (Exchange::SagaReplies, "#"),
        (Exchange::DomainEvents, "delivery.picked_up"),
        (Exchange::DomainEvents, "delivery.delivered"),
    ],
};

/// payment-service: the saga's payment commands.
pub const PAYMENT_SERVICE: QueueSpec = QueueSpec {
    name: "payment-service",
    bindings: &[(Exchange::SagaCommands, "payment.*")],
};

/// delivery-service: the saga's shipping commands, and the orders' confirmations (which
/// release their shipments for pick-up).
pub const DELIVERY_SERVICE: QueueSpec = QueueSpec {
    name: "delivery-service",
    bindings: &[
        (Exchange::SagaCommands, "shipping.*"),
        (Exchange::DomainEvents, "order.confirmed"),
    ],
};

/// tracking-service: the deliveries' progress, for its event streams.
pub const TRACKING_SERVICE: QueueSpec = QueueSpec {
    name: "tracking-service",
    bindings: &[(Exchange::DomainEvents, "delivery.*")],
};

/// The gateways' revocations, one queue shared by every gateway instance: whichever takes a
/// message writes it to the denylist in Redis that all of them read. Not in [`QUEUES`]: its
/// consumer keeps no processed marks in a database, and its messages are never retried
/// through delay queues (see the gateway's `revocation` module).
pub const GATEWAY_REVOCATIONS: QueueSpec = QueueSpec {
    name: "gateway.revocations",
    bindings: &[(Exchange::DomainEvents, "session.revoked")],
};

/// Every consuming service's queue.
pub const QUEUES: [QueueSpec; 4] = [
    ORDER_SERVICE,
    PAYMENT_SERVICE,
    DELIVERY_SERVICE,
    TRACKING_SERVICE,
];

/// The names on one broker, all under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    /// Every name starts with `prefix` (empty in production).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// What every name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// An exchange's name on the broker.
    pub fn exchange(&self, exchange: Exchange) -> String {
        format!("{}{}", self.prefix, exchange.name())
    }

    /// A queue's name on the broker.
    pub fn queue(&self, queue: &QueueSpec) -> String {
        format!("{}{}", self.prefix, queue.name)
    }

    /// Where a queue's messages go when they cannot be handled.
    pub fn dead_letters(&self, queue: &QueueSpec) -> String {
        format!("{}{}.dead", self.prefix, queue.name)
    }

    /// The direct exchange through which a queue's consumer moves the queue's own messages:
    /// to its retry queues, to its dead letters, and back from them (a replay). Each queue has
    /// its own, on which only its consumer's broker user may publish; the default exchange
    /// would let any user put a message on any queue by its name.
    pub fn moves(&self, queue: &QueueSpec) -> String {
        format!("{}{}.moves", self.prefix, queue.name)
    }

    /// Where a queue's messages wait `delay` before they are delivered again.
    pub fn retry_queue(&self, queue: &QueueSpec, delay: Duration) -> String {
        format!(
            "{}{}.delay.{}",
            self.prefix,
            queue.name,
            humantime::format_duration(delay)
        )
    }

    /// Declares the exchanges and every consuming service's queue, bound, with its
    /// dead-letter queue. Declaring what exists with the same settings changes nothing.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        for exchange in Exchange::ALL {
            channel
                .exchange_declare(
                    &self.exchange(exchange),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
        }
        // Declared by every binary too, so that a revocation published before any gateway
        // has started waits for it rather than reaching no queue.
        for queue in QUEUES.iter().chain([&GATEWAY_REVOCATIONS]) {
            self.declare_queue(channel, queue).await?;
        }
        Ok(())
    }

    /// Declares `queue`, its bindings, its dead-letter queue, and the exchange its messages
    /// move through, to which both are bound under their own names.
    pub async fn declare_queue(&self, channel: &Channel, queue: &QueueSpec) -> lapin::Result<()> {
        let name = self.queue(queue);
        let dead = self.dead_letters(queue);
        durable(channel, &name, FieldTable::default()).await?;
        durable(channel, &dead, FieldTable::default()).await?;
        for (exchange, key) in queue.bindings {
            bind(channel, &name, &self.exchange(*exchange), key).await?;
        }
        let moves = self.moves(queue);
        channel
            .exchange_declare(
                &moves,
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        bind(channel, &name, &moves, &name).await?;
        bind(channel, &dead, &moves, &dead).await
    }

    /// Declares one waiting queue per delay, bound to the queue's [`Self::moves`]: a message
    /// put there expires after the delay and is dead-lettered back onto `queue` through the
    /// same exchange. (Earlier versions named them `<queue>.retry.<delay>` and dead-lettered
    /// through the default exchange; such queues still deliver what they hold.)
    pub async fn declare_retries(
        &self,
        channel: &Channel,
        queue: &QueueSpec,
        delays: &[Duration],
    ) -> lapin::Result<()> {
        for delay in delays {
            let mut arguments = FieldTable::default();
            let ttl = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
            arguments.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(LongString::from(self.moves(queue))),
            );
            arguments.insert(
                ShortString::from("x-dead-letter-routing-key"),
                AMQPValue::LongString(LongString::from(self.queue(queue))),
            );
            let retry = self.retry_queue(queue, *delay);
            durable(channel, &retry, arguments).await?;
            bind(channel, &retry, &self.moves(queue), &retry).await?;
        }
        Ok(())
    }
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue,
            exchange,
            key,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

async fn durable(channel: &Channel, name: &str, arguments: FieldTable) -> lapin::Result<()> {
    channel
        .queue_declare(
            name,
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_and_retry_queues_their_delay() {
        let topology = Topology::new("t1.");
        assert_eq!(
            topology.exchange(Exchange::SagaCommands),
            "t1.saga.commands"
        );
        assert_eq!(topology.queue(&PAYMENT_SERVICE), "t1.payment-service");
        assert_eq!(
            topology.dead_letters(&PAYMENT_SERVICE),
            "t1.payment-service.dead"
        );
        assert_eq!(topology.moves(&PAYMENT_SERVICE), "t1.payment-service.moves");
        assert_eq!(
            topology.retry_queue(&PAYMENT_SERVICE, Duration::from_secs(30)),
            "t1.payment-service.delay.30s"
        );
    }

    #[test]
    fn every_exchange_parses_back_from_its_name() {
        for exchange in Exchange::ALL {
            assert_eq!(Exchange::parse(exchange.name()), Some(exchange));
        }
        assert_eq!(Exchange::parse("amq.direct"), None);
        assert!(!Exchange::DomainEvents.must_route());
        assert!(Exchange::SagaCommands.must_route());
    }
}
