//! The help text of the gateway's own metrics; the shared ones (`http_requests_total`, the
//! breakers') are described where they are recorded.

use shared::metrics::{Description, Kind};

const METRICS: &[Description] = &[
    (
        Kind::Counter,
        "gateway_upstream_requests_total",
        "Calls to a backend, by service and outcome (response, 5xx, timeout, unreachable).",
    ),
    (
        Kind::Histogram,
        "gateway_upstream_duration_seconds",
        "Time a call to a backend took, by service.",
    ),
    (
        Kind::Counter,
        "gateway_retries_total",
        "Calls tried again, by service.",
    ),
    (
        Kind::Counter,
        "gateway_retry_budget_exhausted_total",
        "Retries refused because the service's retry budget was spent, by service.",
    ),
    (
        Kind::Counter,
        "gateway_outlier_ejections_total",
        "Instances taken out of balancing after failing, by service.",
    ),
    (
        Kind::Counter,
        "gateway_cache_requests_total",
        "Cacheable requests, by result, as X-Cache says it (HIT, MISS, STALE, BYPASS).",
    ),
    (
        Kind::Histogram,
        "gateway_cache_duration_seconds",
        "Time to answer a cacheable request, by result.",
    ),
    (
        Kind::Counter,
        "gateway_rate_limited_total",
        "Requests refused with 429 by the rate limiter.",
    ),
    (
        Kind::Counter,
        "gateway_rate_limit_fallback_total",
        "Requests counted by the in-process limiter because Redis was away.",
    ),
    (
        Kind::Counter,
        "gateway_shed_requests_total",
        "Requests refused with 503 because too many were in flight.",
    ),
    (
        Kind::Counter,
        "gateway_partial_aggregations_total",
        "Aggregated answers sent with a part missing.",
    ),
    (
        Kind::Counter,
        "gateway_deployment_steps_total",
        "Steps of blue-green deployments run by this gateway, by service and the state stepped into (draining is a switch, rolled-back a switch back).",
    ),
    (
        Kind::Counter,
        "gateway_experiment_requests_total",
        "Requests of an A/B experiment's route, by experiment and the variant they went to.",
    ),
    (
        Kind::Counter,
        "gateway_experiment_conversions_total",
        "Goals reached by users of a running experiment with a conversion goal, by experiment and variant.",
    ),
    (
        Kind::Gauge,
        "gateway_redis_up",
        "1 while the gateway's Redis answers, 0 while it does not.",
    ),
    (
        Kind::Counter,
        "gateway_redis_failures_total",
        "Redis calls that failed, by call.",
    ),
    (
        Kind::Counter,
        "gateway_revocations_received_total",
        "Revocations this gateway learnt of, by where from (broker: taken off the shared queue; redis: announced by another gateway).",
    ),
    (
        Kind::Gauge,
        "gateway_revoked_sessions",
        "Revoked sessions this gateway refuses the tokens of.",
    ),
    (
        Kind::Gauge,
        "gateway_revocation_feed_up",
        "1 while this gateway follows the shared denylist in Redis, 0 while it cannot.",
    ),
    (
        Kind::Counter,
        "gateway_revoked_tokens_refused_total",
        "Genuine, current tokens refused because their session was revoked.",
    ),
];

/// Installs the metrics recorder and gives the gateway's metrics their help text.
pub fn describe() {
    shared::metrics::describe(METRICS);
}
