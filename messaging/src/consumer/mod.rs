//! Idempotent consumers: each message is applied in one database transaction that also
//! records its id as processed, and acknowledged only after the commit. A message delivered
//! again finds its id recorded and is acknowledged without effect.
//!
//! A message whose handling fails waits in a delay queue and comes back, each time after a
//! longer delay; when the delays are used up, or at once for a message that can never be
//! handled, it goes to the queue's dead-letter queue with the reason in its headers, and a
//! saga command or reply that goes there is reported to the saga as a fault. A message whose
//! store is down keeps coming back after the longest delay until the store answers.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Instant};

use futures::{FutureExt, StreamExt};
use lapin::{
    Channel,
    message::Delivery,
    options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    config::RetryDelays,
    connection::{Amqp, AmqpError},
    envelope::Envelope,
    topology::{QueueSpec, Topology},
    trace,
    worker::Backoff,
};

mod fault;
mod handler;
mod headers;
mod settle;

pub use handler::{Failure, Handler};
use headers::attempt_of;

/// Longest wait for the broker to acknowledge the channel's close at shutdown.
const CLOSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

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
        crate::metrics::describe();
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
            // Prefetched messages not yet started go back to the queue with the channel. A
            // broker that no longer answers must not hold the shutdown: the channel goes
            // with the connection anyway.
            let closing = channel.close(200, "consumer stopped");
            let _ = tokio::time::timeout(CLOSE_LIMIT, closing).await;
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
                self.dead_letter(channel, &delivery, None, attempt, "undecodable", &reason)
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
        self.settle(channel, &delivery, &envelope, attempt, outcome)
            .instrument(span)
            .await;
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
}
