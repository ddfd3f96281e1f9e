//! Messaging over RabbitMQ for the binaries that use the broker (restaurant-service does
//! not link it).
//!
//! - [`topology`]: the exchanges `domain.events`, `saga.commands` and `saga.replies`, and
//!   one durable queue per consuming service, each with delay queues and a dead-letter queue.
//! - [`Envelope`]: the one message format (`id`, `type`, `occurred_at`, `aggregate_id`,
//!   `payload`), with W3C trace context in the AMQP headers.
//! - [`outbox`]: messages written in the same transaction as the state change; a relay per
//!   database publishes them with publisher confirms, in order, at least once.
//! - [`Handler`]: idempotent consumers, acknowledging after the commit, retrying with growing
//!   delays, dead-lettering what cannot be handled.
//! - [`BrokeredService`]: the start-up of a service with one database that uses the broker:
//!   its settings, its stores, its relay and consumer, its API bound.
//! - [`answer`]: acknowledgements and requeues that give up on a connection gone meanwhile.
//! - [`dead_letters`]: a queue's dead letters listed, replayed or discarded by operators,
//!   over HTTP under each consuming service's prefix.
//! - [`contracts`]: the payloads of the saga's commands and replies and of the delivery
//!   events, shared by the services that send and receive them.

pub mod answer;
mod broker;
mod config;
mod connection;
mod consumer;
pub mod contracts;
pub mod dead_letters;
mod envelope;
mod metrics;
pub mod outbox;
mod relay;
mod service;
mod stores;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;
pub mod trace;
mod worker;

pub use broker::{Broker, Workers};
pub use config::{BrokerArgs, RetryDelays};
pub use connection::{Amqp, AmqpError};
pub use consumer::{Failure, Handler};
pub use envelope::{Envelope, InvalidPayload, Message};
pub use outbox::{Outbox, enqueue};
pub use service::{BrokeredService, BrokeredServiceArgs};
pub use stores::DatabaseAndBroker;
