//! The gateways' share of the broker: one durable queue that every instance consumes, each
//! revocation taken by one of them, applied to its own denylist at once and written to the
//! shared one in Redis, and acknowledged only once Redis has it. While Redis is away the
//! message goes back to the queue and is taken again a moment later.

use std::time::Duration;

use futures::StreamExt;
use lapin::{
    message::Delivery,
    options::{BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
};
use messaging::{
    Amqp, AmqpError, Envelope,
    answer::{self, AnswerError},
    contracts::{SessionsRevoked, event},
    topology::{GATEWAY_REVOCATIONS, Topology},
};
use shared::resilience::RetryPolicy;
use uuid::Uuid;

use super::{denylist::Denylist, record};
use crate::store::Store;

/// Revocations taken from the queue at once.
const PREFETCH: u16 = 64;
/// Pause before a revocation Redis did not take goes back to the queue.
const REDIS_PAUSE: Duration = Duration::from_millis(500);
/// Kept past the tokens' expiry: the verifier tolerates that much clock skew on `exp`.
const SKEW_MARGIN_MS: u64 = 10_000;

/// Why consuming stopped.
#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error(transparent)]
    Broker(#[from] AmqpError),
    #[error("broker: {0}")]
    Lapin(#[from] lapin::Error),
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error("the delivery stream ended")]
    Ended,
}

/// Consumes the revocations queue.
#[derive(Debug)]
pub struct Consumer {
    pub amqp: Amqp,
    pub topology: Topology,
    pub store: Store,
    pub denylist: Denylist,
}

impl Consumer {
    /// Consumes for ever, coming back after every lost channel or connection.
    pub async fn run(self) {
        let backoff = RetryPolicy {
            max_attempts: u32::MAX,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
        };
        let mut failures = 0_u32;
        loop {
            match self.consume(&mut failures).await {
                // The connection's supervisor is still dialling: no news.
                Err(ConsumeError::Broker(AmqpError::NotConnected)) => {}
                Err(err) => tracing::warn!(error = %err, "revocations consumer interrupted"),
                Ok(()) => {}
            }
            tokio::time::sleep(backoff.backoff(failures)).await;
            failures = failures.saturating_add(1);
        }
    }

    async fn consume(&self, failures: &mut u32) -> Result<(), ConsumeError> {
        let channel = self.amqp.channel().await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        self.topology.declare(&channel).await?;
        let tag = format!("gateway-{}", Uuid::now_v7().simple());
        let mut deliveries = channel
            .basic_consume(
                &self.topology.queue(&GATEWAY_REVOCATIONS),
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        *failures = 0;
        tracing::info!(queue = GATEWAY_REVOCATIONS.name, "consuming revocations");
        while let Some(delivery) = deliveries.next().await {
            self.process(delivery?).await?;
        }
        Err(ConsumeError::Ended)
    }

    async fn process(&self, delivery: Delivery) -> Result<(), ConsumeError> {
        let Some(entries) = revoked(&delivery.data) else {
            // Nothing this queue can use will ever come of it: dropped, not retried.
            answer::acknowledge(&delivery.acker).await?;
            return Ok(());
        };
        self.denylist.insert(&entries);
        metrics::counter!("gateway_revocations_received_total", "via" => "broker").increment(1);
        if record::publish(&self.store, &entries).await {
            answer::acknowledge(&delivery.acker).await?;
        } else {
            tracing::warn!("redis did not take a revocation; it goes back to the queue");
            tokio::time::sleep(REDIS_PAUSE).await;
            answer::requeue(&delivery.acker).await?;
        }
        Ok(())
    }
}

/// The `(session, refused until)` pairs a message carries, or `None` for a message that is
/// not a well-formed revocation.
fn revoked(body: &[u8]) -> Option<Vec<(Uuid, u64)>> {
    let envelope = Envelope::decode(body)
        .inspect_err(|err| tracing::warn!(error = %err, "not an envelope; dropped"))
        .ok()?;
    if envelope.kind != event::SESSION_REVOKED {
        return None;
    }
    let revoked: SessionsRevoked = envelope
        .payload()
        .inspect_err(|err| tracing::warn!(error = %err, "not a revocation; dropped"))
        .ok()?;
    let until = u64::try_from(revoked.expires_at.timestamp_millis())
        .unwrap_or_default()
        .saturating_add(SKEW_MARGIN_MS);
    Some(
        revoked
            .session_ids
            .into_iter()
            .map(|sid| (sid, until))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_is_read_with_a_margin_and_anything_else_is_not() {
        let sid = Uuid::now_v7();
        let expires_at = chrono::Utc::now();
        let payload = SessionsRevoked {
            user_id: Uuid::now_v7(),
            session_ids: vec![sid],
            why: "logout".into(),
            expires_at,
        };
        let envelope = |kind: &str| {
            serde_json::json!({
                "id": Uuid::now_v7(), "type": kind, "occurred_at": expires_at,
                "aggregate_id": "x", "payload": payload,
            })
            .to_string()
        };
        let until = u64::try_from(expires_at.timestamp_millis()).expect("after 1970");
        assert_eq!(
            revoked(envelope(event::SESSION_REVOKED).as_bytes()),
            Some(vec![(sid, until + SKEW_MARGIN_MS)])
        );
        assert_eq!(revoked(envelope("order.created").as_bytes()), None);
        assert_eq!(revoked(b"{}"), None);
    }
}
