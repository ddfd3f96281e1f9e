//! What becomes of a delivery once it was handled: acknowledged, or moved to a delay queue
//! or to the dead-letter queue, the move confirmed by the broker before the original is
//! acknowledged, so that it is never lost.

use std::time::Duration;

use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::BasicPublishOptions,
    publisher_confirm::Confirmation,
    types::{AMQPValue, FieldTable},
};

use super::{
    Applied, Consumer, Failure, Handler,
    headers::{ATTEMPT, origin, text},
};
use crate::{answer, envelope::Envelope};
/// How long a message whose store is down waits when no delay queue is configured.
const UNAVAILABLE_PAUSE: Duration = Duration::from_secs(1);

impl<H: Handler> Consumer<H> {
    /// Acknowledges the message, or moves it to a delay queue or the dead-letter queue.
    pub(super) async fn settle(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        envelope: &Envelope,
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
                        self.retry_after(channel, delivery, attempt, *delay, &reason)
                            .await;
                    }
                    None => {
                        let reason = format!("gave up after {attempt} attempts: {reason}");
                        self.dead_letter(
                            channel,
                            delivery,
                            Some(envelope),
                            attempt,
                            "attempts-exhausted",
                            &reason,
                        )
                        .await;
                    }
                }
            }
            Err(Failure::Unavailable(reason)) => {
                let index = usize::try_from(attempt - 1).unwrap_or(usize::MAX);
                match self.delays.0.get(index).or(self.delays.0.last()) {
                    Some(delay) => {
                        self.retry_after(channel, delivery, attempt, *delay, &reason)
                            .await;
                    }
                    None => {
                        tracing::warn!(%reason, "message handling failed; it will be retried");
                        tokio::time::sleep(UNAVAILABLE_PAUSE).await;
                        requeue(delivery).await;
                    }
                }
            }
            Err(Failure::Reject(reason)) => {
                self.dead_letter(
                    channel,
                    delivery,
                    Some(envelope),
                    attempt,
                    "rejected",
                    &reason,
                )
                .await;
            }
        }
    }

    /// Puts the message on the delay queue of `delay`, from which it comes back.
    async fn retry_after(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        attempt: u32,
        delay: Duration,
        reason: &str,
    ) {
        tracing::warn!(%reason, attempt, retry_in = ?delay, "message handling failed; it will be retried");
        let target = self.topology.retry_queue(&self.queue, delay);
        let mut headers = FieldTable::default();
        headers.insert(
            ATTEMPT.into(),
            AMQPValue::LongLongInt(i64::from(attempt) + 1),
        );
        headers.insert("x-last-error".into(), text(reason));
        origin(delivery, &mut headers);
        if self.forward(channel, delivery, &target, headers).await {
            metrics::counter!("messages_retried_total", "queue" => self.queue.name).increment(1);
        }
    }

    /// Moves the message to the dead-letter queue; a saga command or reply is first
    /// reported to the saga as a fault (see [`Consumer::report_fault`]).
    pub(super) async fn dead_letter(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        envelope: Option<&Envelope>,
        attempt: u32,
        category: &str,
        reason: &str,
    ) {
        tracing::error!(queue = self.queue.name, category, %reason, "message dead-lettered");
        if let Some(envelope) = envelope
            && !self
                .report_fault(channel, delivery, envelope, category, reason)
                .await
        {
            // Kept until the saga can be told: it comes back and is given up on again.
            requeue(delivery).await;
            return;
        }
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

    /// Copies `delivery` to queue `target`, through the queue's own exchange of moves, with
    /// `extra` headers and, once the broker has confirmed the copy, acknowledges the
    /// original; if the copy fails, the original goes back to its queue, so it is never lost.
    /// Returns whether it was moved.
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
                    &self.topology.moves(&self.queue),
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
                requeue(delivery).await;
                false
            }
        }
    }
}

async fn acknowledge(delivery: &Delivery) {
    if let Err(err) = answer::acknowledge(&delivery.acker).await {
        // It will be delivered again, and recognised as processed.
        tracing::debug!(error = %err, "acknowledgement lost");
    }
}

/// Gives the delivery back to its queue, to be delivered again.
async fn requeue(delivery: &Delivery) {
    if let Err(err) = answer::requeue(&delivery.acker).await {
        // Its channel is gone: the broker gives it back with it.
        tracing::debug!(error = %err, "requeue lost");
    }
}
