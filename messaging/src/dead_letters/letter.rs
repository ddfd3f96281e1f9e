//! A dead letter as an operator reads it: the envelope's fields, and why and when it was
//! given up on, from the headers the consumer put on it.

use chrono::{DateTime, Utc};
use lapin::{
    message::Delivery,
    types::{AMQPValue, FieldTable},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::envelope::Envelope;

/// Header counting the attempts at a message, the first being 1.
pub(super) const ATTEMPT: &str = "x-attempt";
/// Header set on a message replayed from the dead letters.
pub(super) const REPLAYED_AT: &str = "x-replayed-at";
/// How much of a body that is no envelope is shown.
const BODY_SHOWN: usize = 4096;

/// One message of a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetter {
    /// The envelope's id, else the AMQP `message-id`: what replay and discard name. None
    /// for a body that is no envelope and came without a message id.
    pub message_id: Option<String>,
    /// The envelope's type, else the AMQP `type`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The aggregate the message is about.
    pub aggregate_id: Option<String>,
    /// When the change it reports happened.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The envelope's payload.
    pub payload: Option<serde_json::Value>,
    /// The body as text (its first 4096 characters) when it is no envelope.
    pub body: Option<String>,
    /// Why it was given up on (`x-dead-reason`): `rejected`, `attempts-exhausted`,
    /// `undecodable`.
    pub reason: Option<String>,
    /// What went wrong (`x-dead-detail`).
    pub detail: Option<String>,
    /// The attempts made at it (`x-attempt`).
    pub attempts: u32,
    /// When it was given up on (`x-dead-at`).
    pub dead_at: Option<DateTime<Utc>>,
    /// When it was last replayed from the dead letters (`x-replayed-at`), if ever.
    pub replayed_at: Option<DateTime<Utc>>,
    /// The exchange it was first published to, as named on the broker.
    pub original_exchange: Option<String>,
    /// The routing key it was first published with.
    pub original_routing_key: Option<String>,
}

impl DeadLetter {
    /// Reads `delivery`, taken from a dead-letter queue.
    pub(super) fn read(delivery: &Delivery) -> Self {
        let properties = &delivery.properties;
        let headers = properties.headers().as_ref();
        let header = |name| text(headers, name);
        let time = |name| {
            header(name)
                .and_then(|value| DateTime::parse_from_rfc3339(&value).ok())
                .map(|time| time.with_timezone(&Utc))
        };
        let mut letter = Self {
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            kind: properties.kind().as_ref().map(ToString::to_string),
            aggregate_id: None,
            occurred_at: None,
            payload: None,
            body: None,
            reason: header("x-dead-reason"),
            detail: header("x-dead-detail"),
            attempts: attempts(headers),
            dead_at: time("x-dead-at"),
            replayed_at: time(REPLAYED_AT),
            original_exchange: header("x-original-exchange"),
            original_routing_key: header("x-original-routing-key"),
        };
        match Envelope::decode(&delivery.data) {
            Ok(envelope) => {
                letter.message_id = Some(envelope.id.to_string());
                letter.kind = Some(envelope.kind);
                letter.aggregate_id = Some(envelope.aggregate_id);
                letter.occurred_at = Some(envelope.occurred_at);
                letter.payload = Some(envelope.payload);
            }
            Err(_) => {
                let body = String::from_utf8_lossy(&delivery.data);
                letter.body = Some(body.chars().take(BODY_SHOWN).collect());
            }
        }
        letter
    }
}

/// The id `delivery` is known by: its envelope's, else its AMQP `message-id`.
pub(super) fn message_id(delivery: &Delivery) -> Option<String> {
    match Envelope::decode(&delivery.data) {
        Ok(envelope) => Some(envelope.id.to_string()),
        Err(_) => delivery
            .properties
            .message_id()
            .as_ref()
            .map(ToString::to_string),
    }
}

fn text(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

fn attempts(headers: Option<&FieldTable>) -> u32 {
    let attempts = match headers.and_then(|headers| headers.inner().get(ATTEMPT)) {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortInt(n)) => i64::from(*n),
        _ => 1,
    };
    u32::try_from(attempts.max(1)).unwrap_or(u32::MAX)
}
