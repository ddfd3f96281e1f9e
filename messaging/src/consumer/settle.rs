//! What becomes of a delivery once it was handled: acknowledged, or moved to a delay queue
//! or to the dead-letter queue, the move confirmed by the broker before the original is
//! acknowledged, so that it is never lost.

use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions},
    publisher_confirm::Confirmation,
    types::{AMQPValue, FieldTable, LongString},
};

use super::{Applied, Consumer, Failure, Handler};

/// Header counting the attempts at a message, the first being 1.
const ATTEMPT: &str = "x-attempt";

impl<H: Handler> Consumer<H> {
    /// Acknowledges the message, or moves it to a delay queue or the dead-letter queue.
    pub(super) async fn settle(
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

    pub(super) async fn dead_letter(
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

pub(super) fn attempt_of(properties: &BasicProperties) -> u32 {
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
