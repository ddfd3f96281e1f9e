//! `GET /stats/circuit-breakers`: the dashboard's breaker table, one row per backend with its
//! instances' breakers.

use std::sync::Arc;

use axum::{Json, extract::State};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use shared::resilience::{BreakerSnapshot, BreakerState};
use utoipa::ToSchema;

use crate::backends::Backend;

/// Every backend's breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakerTable {
    pub breakers: Vec<BreakerRow>,
}

/// One backend's breaker, and its registered instances' own.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakerRow {
    pub service: &'static str,
    #[serde(flatten)]
    pub breaker: BreakerCounts,
    /// Each registered instance's breaker (none while the configured URL is called).
    pub instances: Vec<InstanceBreaker>,
}

/// One registered instance's breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceBreaker {
    /// The instance's id in the registry.
    pub instance: String,
    pub url: String,
    #[serde(flatten)]
    pub breaker: BreakerCounts,
}

/// A breaker's state and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakerCounts {
    /// `CLOSED`, `OPEN` or `HALF_OPEN`.
    pub state: &'static str,
    /// Calls let through since start ("fires").
    pub fires: u64,
    pub failures: u64,
    /// Failures in percent of fires, one decimal.
    pub failure_percent: f64,
    /// Calls slower than `BREAKER_SLOW_CALL` (counted as failures too), and their percent of
    /// fires.
    pub slow: u64,
    pub slow_percent: f64,
    /// Calls answered at once because the breaker was open.
    pub rejected: u64,
    /// Calls and failures in the current window, which restarts on every state change.
    pub window_calls: usize,
    pub window_failures: usize,
    /// When the state last changed (RFC 3339), if it has since start.
    pub last_transition: Option<String>,
    /// While open: when a trial call will be let through (RFC 3339).
    pub next_attempt: Option<String>,
}

fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "CLOSED",
        BreakerState::HalfOpen => "HALF_OPEN",
        BreakerState::Open => "OPEN",
    }
}

fn counts(snapshot: BreakerSnapshot) -> BreakerCounts {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let percent = |part: u64| {
        if snapshot.calls == 0 {
            0.0
        } else {
            (part as f64 * 1000.0 / snapshot.calls as f64).round() / 10.0
        }
    };
    BreakerCounts {
        state: state_name(snapshot.state),
        fires: snapshot.calls,
        failures: snapshot.failures,
        failure_percent: percent(snapshot.failures),
        slow: snapshot.slow,
        slow_percent: percent(snapshot.slow),
        rejected: snapshot.rejected,
        window_calls: snapshot.window_calls,
        window_failures: snapshot.window_failures,
        last_transition: snapshot.changed_at.map(|at| rfc3339(at.into())),
        next_attempt: snapshot
            .retry_in
            .and_then(|wait| chrono::Duration::from_std(wait).ok())
            .map(|wait| rfc3339(Utc::now() + wait)),
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn row(backend: &Backend) -> BreakerRow {
    let instances = backend
        .balancer
        .pool()
        .all
        .iter()
        .filter_map(|endpoint| {
            Some(InstanceBreaker {
                instance: endpoint.id().to_owned(),
                url: endpoint.url.clone(),
                breaker: counts(endpoint.breaker.as_ref()?.snapshot()),
            })
        })
        .collect();
    BreakerRow {
        service: backend.name,
        breaker: counts(backend.breaker.snapshot()),
        instances,
    }
}

/// Each backend's breaker, and each of its registered instances': state, calls, failures,
/// failure rate, last change, next trial.
#[utoipa::path(get, path = "/stats/circuit-breakers", tag = "statistics",
    responses((status = 200, description = "One row per backend", body = BreakerTable)))]
pub async fn get_circuit_breakers(State(backends): State<Arc<[Backend]>>) -> Json<BreakerTable> {
    Json(breaker_table(&backends))
}

/// Every backend's breaker, and its instances'.
pub fn breaker_table(backends: &[Backend]) -> BreakerTable {
    BreakerTable {
        breakers: backends.iter().map(row).collect(),
    }
}
