//! The one envelope every message travels in, and a message about to be sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::topology::Exchange;

/// A message as it travels: its id (for idempotent consumers), its type (also its routing
/// key), when the change it reports happened, the aggregate it concerns, and its payload.
/// W3C trace context travels beside it, in the AMQP headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per message; a redelivery carries the same id.
    pub id: Uuid,
    /// `<aggregate>.<event or command>`, e.g. `payment.authorize`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the state change was committed.
    pub occurred_at: DateTime<Utc>,
    /// The aggregate the message is about (an order id).
    pub aggregate_id: String,
    /// The type's own fields.
    pub payload: serde_json::Value,
}

impl Envelope {
    /// Reads an envelope from a message body.
    pub fn decode(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|err| err.to_string())
    }

    /// The payload as `T`, or why it does not fit.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, InvalidPayload> {
        T::deserialize(&self.payload).map_err(|err| InvalidPayload {
            kind: self.kind.clone(),
            reason: err.to_string(),
        })
    }
}

/// A payload that does not have the shape its message's type asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload of a {kind} is invalid: {reason}")]
pub struct InvalidPayload {
    /// The type of the message that carried it.
    pub kind: String,
    /// What did not fit, as the decoder put it.
    pub reason: String,
}

/// A message to publish through the outbox: where it goes, what it is, what it is about.
#[derive(Debug, Clone)]
pub struct Message<P> {
    /// The exchange it is published to.
    pub exchange: Exchange,
    /// Its type, which is also its routing key.
    pub kind: &'static str,
    /// The aggregate it concerns.
    pub aggregate_id: String,
    /// Its fields.
    pub payload: P,
}

impl<P: Serialize> Message<P> {
    /// A domain event: something that happened.
    pub fn event(kind: &'static str, aggregate_id: impl ToString, payload: P) -> Self {
        Self::new(Exchange::DomainEvents, kind, aggregate_id, payload)
    }

    /// A saga command: something a participant is asked to do.
    pub fn command(kind: &'static str, aggregate_id: impl ToString, payload: P) -> Self {
        Self::new(Exchange::SagaCommands, kind, aggregate_id, payload)
    }

    /// A saga reply: what a participant did.
    pub fn reply(kind: &'static str, aggregate_id: impl ToString, payload: P) -> Self {
        Self::new(Exchange::SagaReplies, kind, aggregate_id, payload)
    }

    fn new(
        exchange: Exchange,
        kind: &'static str,
        aggregate_id: impl ToString,
        payload: P,
    ) -> Self {
        Self {
            exchange,
            kind,
            aggregate_id: aggregate_id.to_string(),
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_with_its_type_named_type() {
        let envelope = Envelope {
            id: Uuid::now_v7(),
            kind: "order.created".into(),
            occurred_at: Utc::now(),
            aggregate_id: "o-1".into(),
            payload: serde_json::json!({"total": 1200}),
        };
        let body = serde_json::to_vec(&envelope).expect("json");
        assert!(String::from_utf8_lossy(&body).contains(r#""type":"order.created""#));
        assert_eq!(Envelope::decode(&body), Ok(envelope));
    }

    #[test]
    fn a_body_that_is_no_envelope_is_refused_with_the_reason() {
        let err = Envelope::decode(br#"{"id": "not a uuid"}"#).expect_err("invalid");
        assert!(err.contains("UUID") || err.contains("uuid"), "{err}");
        assert!(Envelope::decode(b"{} trailing").is_err());
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_refused_with_its_type() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wanted {
            amount: i64,
        }
        let envelope = Envelope {
            id: Uuid::now_v7(),
            kind: "payment.authorize".into(),
            occurred_at: Utc::now(),
            aggregate_id: "o-1".into(),
            payload: serde_json::json!({"amount": "twelve"}),
        };
        let err = envelope.payload::<Wanted>().expect_err("invalid");
        assert_eq!(err.kind, "payment.authorize");
        assert!(err.to_string().contains("payment.authorize"), "{err}");
    }
}
