//! The monitoring dashboard: one snapshot of everything the gateway knows (breakers per
//! service and instance, the cache, retries and their budgets, rate-limit refusals, each
//! instance's health, deployments and experiments), pushed to the page every second over
//! Server-Sent Events.

pub mod http;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    aggregate::{Part, fetch_part},
    cache::{CachePanel, cache_panel},
    deploy::DeploymentStatus,
    discovery::RegistryView,
    experiment::ExperimentSummary,
    state::GatewayState,
};
use gateway_upstream::{BreakerTable, BudgetUsage, breaker_table};

/// Everything the dashboard shows, at one time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    /// When it was taken (RFC 3339).
    pub at: String,
    pub breakers: BreakerTable,
    pub cache: CachePanel,
    pub retries: Vec<RetryRow>,
    /// Requests refused by the rate limit since start.
    pub rate_limited: u64,
    /// Each backend's instances and their health.
    pub registry: RegistryView,
    /// Each backend's live colour and latest deployment (none without a registry).
    pub deployments: Vec<DeploymentStatus>,
    pub experiments: Vec<ExperimentSummary>,
    /// order-service's sagas by state and the last to end, or why they could not be read.
    #[schema(value_type = Object)]
    pub sagas: serde_json::Value,
}

/// One backend's retries.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryRow {
    pub service: &'static str,
    /// Retries made since start.
    pub retries: u64,
    /// Retries the budget refused since start.
    pub refused_by_budget: u64,
    /// The budget's last ten seconds.
    pub budget: BudgetUsage,
}

/// What the gateway knows now; the sagas are asked of order-service as the admin whose
/// `token` this is.
pub async fn snapshot(state: &GatewayState, token: &str) -> Snapshot {
    use std::sync::atomic::Ordering::Relaxed;
    let retries = state
        .backends
        .iter()
        .map(|backend| RetryRow {
            service: backend.name,
            retries: backend.retries.load(Relaxed),
            refused_by_budget: backend.retries_refused.load(Relaxed),
            budget: backend.budget.usage(),
        })
        .collect();
    let (cache, registry, deployments, experiments, sagas) = tokio::join!(
        cache_panel(&state.cache),
        state.discovery.view(),
        state.deployments.statuses(),
        state.experiments.summaries(),
        sagas(state, token),
    );
    Snapshot {
        at: crate::clock::now(),
        breakers: breaker_table(&state.backends),
        cache,
        retries,
        rate_limited: state.limiter.refused(),
        registry: registry.described(&state.backends),
        deployments: deployments.unwrap_or_default(),
        experiments: experiments.unwrap_or_default(),
        sagas,
    }
}

/// order-service's saga summary, or `{"unavailable": reason}`.
async fn sagas(state: &GatewayState, token: &str) -> serde_json::Value {
    let mut headers = ::http::HeaderMap::new();
    if let Ok(value) = ::http::HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert(::http::header::AUTHORIZATION, value);
    }
    let path = "/orders/admin/sagas/summary".to_owned();
    match fetch_part(state, "sagas", "order-service", path, &headers).await {
        Part::Found(summary) => summary,
        Part::Absent => serde_json::json!({"unavailable": "order-service has no saga summary"}),
        Part::Failed(failed) => serde_json::json!({"unavailable": failed.reason}),
    }
}
