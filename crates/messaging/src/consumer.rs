//! Idempotent consumers: each message is applied in one database transaction that also
//! records its id as processed, and acknowledged only after the commit. A message delivered
//! again finds its id recorded and is acknowledged without effect.
//!
//! A message whose handling fails waits in a delay queue and comes back, each time after a
//! longer delay; when the delays are used up, or at once for a message that can never be
//! handled, it goes to the queue's dead-letter queue with the reason in its headers.

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc, time::Instant};

use futures::{FutureExt, StreamExt};
use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    publisher_confirm::Confirmation,
    types::{AMQPValue, FieldTable, LongString},
};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    config::RetryDelays,
    connection::{Amqp, AmqpError},
    envelope::Envelope,
    outbox::Outbox,
    topology::{QueueSpec, Topology},
    trace,
    worker::Backoff,
};

/// Header counting the attempts at a message, the first being 1.
const ATTEMPT: &str = "x-attempt";

/// Why a message was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// It may work later (a store is down, what it follows has not arrived yet): it is
    /// tried again after the next delay.
    #[error("{0}")]
    Retry(String),
    /// It can never work (its payload does not fit): it is dead-lettered at once.
    #[error("{0}")]
    Reject(String),
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Self::Retry(format!("database: {err}"))
    }
}

/// What a service does with the messages of its queue.
pub trait Handler: Send + Sync + 'static {
    /// The outbox of the database that holds the message's effects; its processed mark is
    /// written there too, and what the handler enqueues is relayed from there.
    fn outbox(&self, message: &Envelope) -> Result<&Outbox, Failure>;

    /// Applies `message` within `transaction`, which commits with the processed mark when
    /// this succeeds and rolls back otherwise. Messages of unknown types should be accepted
    /// and ignored, so that a new event type does not fill the dead-letter queue.
    fn handle(
        &self,
        transaction: &mut PgConnection,
        message: &Envelope,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Runs after the transaction of `message` committed (to tell live listeners, say).
    fn committed(&self, _message: &Envelope) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// Consumes one queue with one handler.
#[derive(Debug)]
pub(crate) struct Consumer<H> {
    pub handler: Arc<H>,
    pub queue: QueueSpec,
    pub amqp: Amqp,
    pub topology: Topology,
    pub delays: RetryDelays,
    pub prefetch: u16,
    pub service: String,
}

enum Applied {
    Now,
    Before,
}

/// Why consuming stopped.
#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker is not connected")]
    NotConnected,
    #[error("the delivery stream ended")]
    Ended,
    #[error("the consumer panicked")]
    Panicked,
}

impl From<AmqpError> for ConsumeError {
    fn from(err: AmqpError) -> Self {
        match err {
            AmqpError::NotConnected => Self::NotConnected,
            AmqpError::Lapin(err) => Self::Broker(err),
        }
    }
}

impl<H: Handler> Consumer<H> {
    /// Consumes until `stop` is cancelled, coming back after every lost channel; the
    /// messages being handled when it is cancelled are finished first.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = Backoff::new();
        loop {
            // A bug must not stop consuming for good: the queue would fill.
            let consumed = AssertUnwindSafe(self.consume(&stop, &mut backoff))
                .catch_unwind()
                .await
                .unwrap_or(Err(ConsumeError::Panicked));
            match consumed {
                Ok(()) => return,
                // Waiting for the connection's supervisor: it says when it connects.
                Err(ConsumeError::NotConnected) => {}
                Err(err) => {
                    tracing::warn!(queue = self.queue.name, error = %err, "consumer interrupted")
                }
            }
            if stop.is_cancelled() || !backoff.wait(&stop).await {
                return;
            }
        }
    }

    async fn consume(
        &self,
        stop: &CancellationToken,
        backoff: &mut Backoff,
    ) -> Result<(), ConsumeError> {
        let channel = self.amqp.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        self.topology.declare(&channel).await?;
        self.topology.declare_queue(&channel, &self.queue).await?;
        self.topology
            .declare_retries(&channel, &self.queue, &self.delays.0)
            .await?;
        let tag = format!("{}-{}", self.service, uuid::Uuid::now_v7().simple());
        let deliveries = channel
            .basic_consume(
                &self.topology.queue(&self.queue),
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        backoff.reset();
        tracing::info!(queue = self.queue.name, "consuming");
        let channel = &channel;
        deliveries
            .take_until(stop.cancelled())
            .for_each_concurrent(usize::from(self.prefetch), |delivery| async move {
                match delivery {
                    Ok(delivery) => self.process(channel, delivery).await,
                    Err(err) => {
                        tracing::warn!(queue = self.queue.name, error = %err, "delivery failed")
                    }
                }
            })
            .await;
        if stop.is_cancelled() {
            // Prefetched messages not yet started go back to the queue with the channel.
            let _ = channel.close(200, "consumer stopped").await;
            return Ok(());
        }
        Err(ConsumeError::Ended)
    }

    async fn process(&self, channel: &Channel, delivery: Delivery) {
        let queue = self.queue.name;
        let attempt = attempt_of(&delivery.properties);
        let envelope = match Envelope::decode(&delivery.data) {
            Ok(envelope) => envelope,
            Err(reason) => {
                let reason = format!("not an envelope: {reason}");
                self.dead_letter(channel, &delivery, attempt, "undecodable", &reason)
                    .await;
                return;
            }
        };
        let span = tracing::info_span!(
            "consume",
            otel.kind = "consumer",
            messaging.system = "rabbitmq",
            messaging.destination.name = queue,
            messaging.message.type = %envelope.kind,
            messaging.message.id = %envelope.id,
            attempt,
        );
        trace::adopt(
            &span,
            &trace::from_amqp(delivery.properties.headers().as_ref()),
        );
        let started = Instant::now();
        let outcome = self.apply(&envelope).instrument(span.clone()).await;
        metrics::histogram!("message_handling_duration_seconds", "queue" => queue)
            .record(started.elapsed().as_secs_f64());
        // Instrumented, not entered: an entered span held across an await would stay current
        // on the thread for whatever task it runs next.
        self.settle(channel, &delivery, attempt, outcome)
            .instrument(span)
            .await;
    }

    /// Acknowledges the message, or moves it to a delay queue or the dead-letter queue.
    async fn settle(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        attempt: u32,
        outcome: Result<Applied, Failure>,
    ) {
        let queue = self.queue.name;
        match outcome {
            Ok(applied) => {
                let outcome = match applied {
                    Applied::Now => "applied",
                    Applied::Before => "duplicate",
                };
                metrics::counter!("messages_consumed_total", "queue" => queue, "outcome" => outcome)
                    .increment(1);
                acknowledge(delivery).await;
            }
            Err(Failure::Retry(reason)) => {
                let delay = usize::try_from(attempt - 1)
                    .ok()
                    .and_then(|index| self.delays.0.get(index));
                match delay {
                    Some(delay) => {
                        tracing::warn!(%reason, attempt, retry_in = ?delay, "message handling failed; it will be retried");
                        let target = self.topology.retry_queue(&self.queue, *delay);
                        let mut headers = FieldTable::default();
                        headers.insert(
                            ATTEMPT.into(),
                            AMQPValue::LongLongInt(i64::from(attempt) + 1),
                        );
                        headers.insert("x-last-error".into(), text(&reason));
                        origin(delivery, &mut headers);
                        if self.forward(channel, delivery, &target, headers).await {
                            metrics::counter!("messages_retried_total", "queue" => queue)
                                .increment(1);
                        }
                    }
                    None => {
                        let reason = format!("gave up after {attempt} attempts: {reason}");
                        self.dead_letter(channel, delivery, attempt, "attempts-exhausted", &reason)
                            .await;
                    }
                }
            }
            Err(Failure::Reject(reason)) => {
                self.dead_letter(channel, delivery, attempt, "rejected", &reason)
                    .await;
            }
        }
    }

    /// Applies the message with its processed mark in one transaction.
    async fn apply(&self, envelope: &Envelope) -> Result<Applied, Failure> {
        let outbox = self.handler.outbox(envelope)?;
        let mut transaction = outbox.pool().begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(self.queue.name)
        .bind(envelope.id)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            return Ok(Applied::Before);
        }
        self.handler.handle(&mut transaction, envelope).await?;
        transaction.commit().await?;
        outbox.committed();
        self.handler.committed(envelope).await;
        Ok(Applied::Now)
    }

    async fn dead_letter(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        attempt: u32,
        category: &str,
        reason: &str,
    ) {
        tracing::error!(queue = self.queue.name, category, %reason, "message dead-lettered");
        let mut headers = FieldTable::default();
        headers.insert("x-dead-reason".into(), text(category));
        headers.insert("x-dead-detail".into(), text(reason));
        headers.insert(ATTEMPT.into(), AMQPValue::LongLongInt(i64::from(attempt)));
        origin(delivery, &mut headers);
        headers.insert("x-dead-at".into(), text(&chrono::Utc::now().to_rfc3339()));
        let target = self.topology.dead_letters(&self.queue);
        if self.forward(channel, delivery, &target, headers).await {
            metrics::counter!("messages_dead_lettered_total", "queue" => self.queue.name, "reason" => category.to_owned())
                .increment(1);
        }
    }

    /// Copies `delivery` to queue `target` with `extra` headers and, once the broker has
    /// confirmed the copy, acknowledges the original; if the copy fails, the original goes
    /// back to its queue, so it is never lost. Returns whether it was moved.
    async fn forward(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        target: &str,
        extra: FieldTable,
    ) -> bool {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        for (key, value) in extra.inner() {
            headers.insert(key.clone(), value.clone());
        }
        let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
        let copied = async {
            let confirm = channel
                .basic_publish(
                    "",
                    target,
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &delivery.data,
                    properties,
                )
                .await?;
            lapin::Result::Ok(matches!(confirm.await?, Confirmation::Ack(None)))
        }
        .await;
        match copied {
            Ok(true) => {
                acknowledge(delivery).await;
                true
            }
            outcome => {
                tracing::warn!(
                    target,
                    ?outcome,
                    "cannot move the message; it goes back to its queue"
                );
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
                false
            }
        }
    }
}

async fn acknowledge(delivery: &Delivery) {
    if let Err(err) = delivery.acker.ack(BasicAckOptions::default()).await {
        // It will be delivered again, and recognised as processed.
        tracing::debug!(error = %err, "acknowledgement lost");
    }
}

/// Where the message was first published: a retried message comes back from its delay
/// queue through the default exchange, so the first delivery's route is kept in headers.
fn origin(delivery: &Delivery, headers: &mut FieldTable) {
    let known = delivery
        .properties
        .headers()
        .as_ref()
        .is_some_and(|headers| headers.contains_key("x-original-routing-key"));
    if !known {
        headers.insert(
            "x-original-exchange".into(),
            text(delivery.exchange.as_str()),
        );
        headers.insert(
            "x-original-routing-key".into(),
            text(delivery.routing_key.as_str()),
        );
    }
}

fn attempt_of(properties: &BasicProperties) -> u32 {
    let value = properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(ATTEMPT).cloned());
    let attempt = match value {
        Some(AMQPValue::LongLongInt(n)) => n,
        Some(AMQPValue::LongInt(n)) => i64::from(n),
        Some(AMQPValue::ShortInt(n)) => i64::from(n),
        _ => 1,
    };
    u32::try_from(attempt.max(1)).unwrap_or(u32::MAX)
}

fn text(value: &str) -> AMQPValue {
    let value: String = value.chars().take(1000).collect();
    AMQPValue::LongString(LongString::from(value))
}
