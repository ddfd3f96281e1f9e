//! Dead letters, for operators: a service's `<queue>.dead` listed without disturbing it, and
//! one message replayed onto the service's own queue or discarded.
//!
//! Every operation works on a channel of its own and takes messages with manual
//! acknowledgement: what it only looked at is never acknowledged and goes back, in its
//! place, when the channel closes (also when the request is dropped half-way, since a
//! dropped channel closes itself).

use std::collections::BTreeMap;

use lapin::{
    Channel,
    message::Delivery,
    options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions},
    protocol::{AMQPErrorKind, AMQPSoftError},
    publisher_confirm::Confirmation,
    types::{AMQPValue, FieldTable, LongString},
};

use crate::{
    answer,
    broker::Broker,
    connection::Amqp,
    topology::{QUEUES, QueueSpec, Topology},
};

mod error;
mod letter;
mod routes;

pub use error::DeadLetterError;
pub use letter::DeadLetter;
pub use routes::{DeadLetterPage, api};

/// The most messages replay and discard look through to find theirs.
pub const SEARCH_LIMIT: usize = 10_000;

/// The dead letters of one consuming service's queue.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    /// The broker connection.
    pub amqp: Amqp,
    /// The names on the broker.
    pub topology: Topology,
    /// The queue whose dead letters these are (replays go back to it).
    pub queue: QueueSpec,
}

impl DeadLetters {
    /// The dead letters of `queue` on `amqp`, named as `topology` says.
    pub fn new(amqp: Amqp, topology: Topology, queue: QueueSpec) -> Self {
        crate::metrics::describe();
        Self {
            amqp,
            topology,
            queue,
        }
    }

    /// The dead letters of `queue` on `broker`'s connection.
    pub fn of(broker: &Broker, queue: QueueSpec) -> Self {
        Self::new(
            broker.connection().clone(),
            broker.topology().clone(),
            queue,
        )
    }

    /// The dead-letter queue's name on the broker.
    pub fn queue_name(&self) -> String {
        self.topology.dead_letters(&self.queue)
    }

    /// How many dead letters wait (those another operator holds at this instant excepted).
    pub async fn count(&self) -> Result<u32, DeadLetterError> {
        let channel = self.amqp.channel().await?;
        let count = waiting(&channel, &self.queue_name()).await;
        release(&channel).await;
        count
    }

    /// The first `limit` dead letters, oldest first, all left in place and in order.
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let channel = self.amqp.channel().await?;
        let name = self.queue_name();
        let mut letters = Vec::new();
        let mut outcome = Ok(());
        while letters.len() < limit {
            match channel.basic_get(&name, BasicGetOptions::default()).await {
                Ok(Some(message)) => letters.push(DeadLetter::read(&message.delivery)),
                Ok(None) => break,
                Err(err) if is_missing(&err) => break,
                Err(err) => {
                    outcome = Err(err.into());
                    break;
                }
            }
        }
        release(&channel).await;
        outcome.map(|()| letters)
    }

    /// Publishes the dead letter `message_id` again to the service's queue (same body, id and
    /// headers, with `x-attempt` back to 1 and `x-replayed-at`), and once the broker has
    /// confirmed it, removes the dead copy. Returns the letter as it was.
    pub async fn replay(&self, message_id: &str) -> Result<DeadLetter, DeadLetterError> {
        let channel = self.amqp.channel().await?;
        let replayed = self.replay_on(&channel, message_id).await;
        release(&channel).await;
        if replayed.is_ok() {
            metrics::counter!("dead_letters_replayed_total", "queue" => self.queue.name)
                .increment(1);
        }
        replayed
    }

    async fn replay_on(
        &self,
        channel: &Channel,
        message_id: &str,
    ) -> Result<DeadLetter, DeadLetterError> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let delivery = self.find(channel, message_id).await?;
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(letter::ATTEMPT.into(), AMQPValue::LongLongInt(1));
        headers.insert(
            letter::REPLAYED_AT.into(),
            AMQPValue::LongString(LongString::from(chrono::Utc::now().to_rfc3339())),
        );
        let properties = delivery.properties.clone().with_headers(headers);
        let confirmation = channel
            .basic_publish(
                &self.topology.moves(&self.queue),
                &self.topology.queue(&self.queue),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                properties,
            )
            .await?
            .await?;
        if !matches!(confirmation, Confirmation::Ack(None)) {
            return Err(DeadLetterError::NotReplayed);
        }
        if let Err(err) = answer::acknowledge(&delivery.acker).await {
            // The replay stands; the copy left behind is a duplicate the consumer's processed
            // marks make harmless, and can be discarded.
            tracing::warn!(message_id, error = %err, "replayed, but the dead copy stays");
        }
        Ok(DeadLetter::read(&delivery))
    }

    /// Removes the dead letter `message_id` for good. Returns it as it was.
    pub async fn discard(&self, message_id: &str) -> Result<DeadLetter, DeadLetterError> {
        let channel = self.amqp.channel().await?;
        let discarded = async {
            let delivery = self.find(&channel, message_id).await?;
            answer::acknowledge(&delivery.acker).await?;
            Ok(DeadLetter::read(&delivery))
        }
        .await;
        release(&channel).await;
        if discarded.is_ok() {
            metrics::counter!("dead_letters_discarded_total", "queue" => self.queue.name)
                .increment(1);
        }
        discarded
    }

    /// Takes dead letters on `channel` until the one with `message_id`, which is returned
    /// unacknowledged; those before it stay held until the channel closes.
    async fn find(&self, channel: &Channel, message_id: &str) -> Result<Delivery, DeadLetterError> {
        let name = self.queue_name();
        for _ in 0..SEARCH_LIMIT {
            match channel.basic_get(&name, BasicGetOptions::default()).await {
                Ok(Some(message)) => {
                    if letter::message_id(&message.delivery).as_deref() == Some(message_id) {
                        return Ok(message.delivery);
                    }
                }
                Ok(None) => break,
                Err(err) if is_missing(&err) => break,
                Err(err) => return Err(err.into()),
            }
        }
        Err(DeadLetterError::NotFound {
            message_id: message_id.to_owned(),
            queue: name,
        })
    }
}

/// How many dead letters wait in each consuming service's queue, by the queue's name.
pub async fn counts(
    amqp: &Amqp,
    topology: &Topology,
) -> Result<BTreeMap<String, u32>, DeadLetterError> {
    let mut counts = BTreeMap::new();
    for queue in &QUEUES {
        // A queue not declared yet closes the channel it is asked on: one each.
        let channel = amqp.channel().await?;
        let count = waiting(&channel, &topology.dead_letters(queue)).await;
        release(&channel).await;
        counts.insert(queue.name.to_owned(), count?);
    }
    Ok(counts)
}

/// The messages ready in queue `name` (none when it does not exist yet).
async fn waiting(channel: &Channel, name: &str) -> Result<u32, DeadLetterError> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    match channel
        .queue_declare(name, passive, FieldTable::default())
        .await
    {
        Ok(queue) => Ok(queue.message_count()),
        Err(err) if is_missing(&err) => Ok(0),
        Err(err) => Err(err.into()),
    }
}

/// Whether the broker answered that the queue does not exist.
fn is_missing(err: &lapin::Error) -> bool {
    matches!(
        err,
        lapin::Error::ProtocolError(error)
            if matches!(error.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND))
    )
}

/// Closes the channel, which gives back every message taken and not acknowledged, in its
/// place; waits for the broker, so that they are back when this returns.
async fn release(channel: &Channel) {
    if channel.status().connected()
        && let Err(err) = channel.close(200, "dead letters looked at").await
    {
        tracing::debug!(error = %err, "the dead letters' channel closed uncleanly");
    }
}
