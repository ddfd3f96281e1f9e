//! The headers a consumer reads and writes on the messages it moves: the attempt count, and
//! where a message was first published.

use lapin::{
    BasicProperties,
    message::Delivery,
    types::{AMQPValue, FieldTable, LongString},
};

/// Header counting the attempts at a message, the first being 1.
pub(super) const ATTEMPT: &str = "x-attempt";

/// Where the message was first published: a retried message comes back from its delay
/// queue through the default exchange, so the first delivery's route is kept in headers.
pub(super) fn origin(delivery: &Delivery, headers: &mut FieldTable) {
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

/// The exchange the message was first published to (with the topology's prefix).
pub(super) fn original_exchange(delivery: &Delivery) -> String {
    let header = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-original-exchange").cloned());
    match header {
        Some(AMQPValue::LongString(name)) => name.to_string(),
        _ => delivery.exchange.to_string(),
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

pub(super) fn text(value: &str) -> AMQPValue {
    let value: String = value.chars().take(1000).collect();
    AMQPValue::LongString(LongString::from(value))
}
