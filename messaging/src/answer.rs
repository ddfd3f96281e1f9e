//! Answers to the broker about one delivery (acknowledge, requeue), bounded in time.
//!
//! lapin passes an acknowledgement to its connection's internal task and waits for that
//! task's answer. When the connection dies at that very moment the task may already have
//! gone: the acknowledgement is dropped unanswered and the wait never ends. A consumer
//! waiting on it would never subscribe again, and an operator's request would never return.
//! Past a limit the answer is taken for lost: the broker gives an unacknowledged delivery
//! back once its channel is gone, and consumers' processed-message marks make a second
//! delivery harmless.

use std::time::Duration;

use lapin::{
    acker::Acker,
    options::{BasicAckOptions, BasicNackOptions},
};

/// Longest wait for lapin to pass on an answer: it is written to the socket, not answered
/// by the broker, so a live connection takes far less.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);

/// Why the broker may not have been told.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// lapin refused it: the channel or the connection is gone.
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    /// lapin never said whether it was sent: its connection went meanwhile.
    #[error("the answer to the broker was not passed on within {ANSWER_LIMIT:?}")]
    Unanswered,
}

/// Acknowledges a delivery: the broker forgets it.
pub async fn acknowledge(acker: &Acker) -> Result<(), AnswerError> {
    within_limit(acker.ack(BasicAckOptions::default())).await
}

/// Gives a delivery back to its queue, to be delivered again.
pub async fn requeue(acker: &Acker) -> Result<(), AnswerError> {
    within_limit(acker.nack(BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    }))
    .await
}

async fn within_limit(answer: impl Future<Output = lapin::Result<()>>) -> Result<(), AnswerError> {
    match tokio::time::timeout(ANSWER_LIMIT, answer).await {
        Ok(answered) => Ok(answered?),
        Err(_) => Err(AnswerError::Unanswered),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use lapin::{
        BasicProperties,
        message::Delivery,
        options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions},
        types::FieldTable,
    };

    use super::*;

    /// A delivery taken from a fresh queue, left unacknowledged, then its connection cut
    /// and given time to wind down its internal task.
    async fn delivery_of_a_dead_connection() -> Delivery {
        let (connection, proxy) = crate::testing::connect_through_proxy().await;
        let channel = connection.create_channel().await.expect("a channel");
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("a queue of the test's own");
        channel
            .basic_publish(
                "",
                queue.name().as_str(),
                BasicPublishOptions::default(),
                b"m",
                BasicProperties::default(),
            )
            .await
            .expect("published");
        let deadline = Instant::now() + Duration::from_secs(10);
        let delivery = loop {
            if let Some(message) = channel
                .basic_get(queue.name().as_str(), BasicGetOptions::default())
                .await
                .expect("a get")
            {
                break message.delivery;
            }
            assert!(Instant::now() < deadline, "the message never arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        proxy.cut();
        while connection.status().connected() {
            assert!(Instant::now() < deadline, "the cut was never noticed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        delivery
    }

    #[tokio::test]
    async fn an_acknowledgement_lapin_never_answers_is_given_up_in_time() {
        let delivery = delivery_of_a_dead_connection().await;
        let answered = tokio::time::timeout(ANSWER_LIMIT * 2, acknowledge(&delivery.acker))
            .await
            .expect("the acknowledgement returns");
        assert!(
            matches!(answered, Err(AnswerError::Unanswered)),
            "lapin never answers it, and the limit says so: {answered:?}"
        );
    }

    #[tokio::test]
    async fn a_requeue_lapin_never_answers_is_given_up_in_time() {
        let delivery = delivery_of_a_dead_connection().await;
        let answered = tokio::time::timeout(ANSWER_LIMIT * 2, requeue(&delivery.acker))
            .await
            .expect("the requeue returns");
        assert!(
            matches!(answered, Err(AnswerError::Unanswered)),
            "lapin never answers it, and the limit says so: {answered:?}"
        );
    }
}
