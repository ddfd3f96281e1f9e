//! The help text of the saga's metrics.

use shared::metrics::{Description, Kind};

const METRICS: &[Description] = &[
    (
        Kind::Counter,
        "sagas_started_total",
        "Order sagas started: one per order placed.",
    ),
    (
        Kind::Counter,
        "sagas_finished_total",
        "Order sagas ended, by outcome (confirmed, rejected, cancelled; failed when an operator must look, resolved once one has).",
    ),
    (
        Kind::Histogram,
        "saga_duration_seconds",
        "Time from an order's placing to its saga's end, by outcome.",
    ),
    (
        Kind::Counter,
        "saga_step_timeouts_total",
        "Saga steps that got no answer before their deadline, by step.",
    ),
    (
        Kind::Gauge,
        "sagas_unfinished",
        "Sagas not yet ended, by state (running, compensating, cancelling, failed) and shard.",
    ),
];

/// Gives the saga's metrics their help text.
pub fn describe() {
    shared::metrics::describe(METRICS);
}
