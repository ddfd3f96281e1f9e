//! The help text of the metrics the outbox relay and the consumers record.

use shared::metrics::{Description, Kind};

/// Described by [`describe`]: once a relay, a consumer or a dead-letter API starts.
const METRICS: &[Description] = &[
    (
        Kind::Counter,
        "messages_published_total",
        "Messages the outbox relay published and the broker confirmed, by exchange and type.",
    ),
    (
        Kind::Counter,
        "outbox_relay_failures_total",
        "Times the outbox relay could not publish and backed off, by outbox.",
    ),
    (
        Kind::Histogram,
        "outbox_relay_delay_seconds",
        "Time from a message's commit to the broker's confirm, by outbox.",
    ),
    (
        Kind::Gauge,
        "outbox_messages_pending",
        "Messages committed but not yet published, by outbox.",
    ),
    (
        Kind::Gauge,
        "outbox_oldest_message_age_seconds",
        "Age of the oldest message not yet published, by outbox (0 when none).",
    ),
    (
        Kind::Counter,
        "messages_consumed_total",
        "Messages taken from a queue, by queue and outcome (applied, or duplicate when already applied).",
    ),
    (
        Kind::Counter,
        "messages_retried_total",
        "Messages put back on a delay queue to be tried again, by queue.",
    ),
    (
        Kind::Counter,
        "messages_dead_lettered_total",
        "Messages given up on and sent to the dead-letter queue, by queue and reason.",
    ),
    (
        Kind::Counter,
        "message_faults_reported_total",
        "Saga commands and replies given up on and reported to the saga as faults, by queue.",
    ),
    (
        Kind::Counter,
        "outbox_messages_set_aside_total",
        "Outbox messages the broker kept refusing, set aside so that those behind them go on, by outbox.",
    ),
    (
        Kind::Gauge,
        "outbox_messages_set_aside",
        "Outbox messages set aside after the broker kept refusing them, by outbox.",
    ),
    (
        Kind::Counter,
        "dead_letters_replayed_total",
        "Dead letters an operator published again to their queue, by queue.",
    ),
    (
        Kind::Counter,
        "dead_letters_discarded_total",
        "Dead letters an operator removed for good, by queue.",
    ),
    (
        Kind::Histogram,
        "message_handling_duration_seconds",
        "Time a consumer took to handle a message, by queue.",
    ),
];

/// Gives the messaging metrics their help text, once however many relays and consumers start.
pub(crate) fn describe() {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(|| shared::metrics::describe(METRICS));
}
