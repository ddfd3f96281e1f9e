//! `/health` and `/ready`: what a binary depends on and whether each dependency answers.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use futures::future::{BoxFuture, join_all};
use serde::Serialize;
use tokio::time::Instant;
use utoipa::ToSchema;

/// Longest a single check may take before it counts as down.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Something a binary needs in order to serve, and how to tell whether it answers. Each
/// store adapter implements it (a PostgreSQL database, Redis, MongoDB, another service, the
/// broker in the messaging crate), so a binary links only the drivers it uses.
pub trait HealthCheck: Send + Sync + std::fmt::Debug + 'static {
    /// `Ok` when it answers; otherwise a short, driver-free reason.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Where it was reached, when that helps an operator (an HTTP service's URL).
    fn target(&self) -> Option<String> {
        None
    }
}

/// A named list of dependencies, checked concurrently.
#[derive(Debug, Clone, Default)]
pub struct Checks(Vec<(String, Arc<dyn HealthCheck>)>);

impl Checks {
    /// No dependencies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dependency under `name` (`postgres`, `shard-a`, `auth-service`, ...).
    pub fn with(mut self, name: impl Into<String>, dependency: impl HealthCheck) -> Self {
        self.0.push((name.into(), Arc::new(dependency)));
        self
    }

    /// Runs every check at once, each bounded by a time-out.
    pub async fn run(&self) -> BTreeMap<String, CheckReport> {
        let runs = self.0.iter().map(|(name, dependency)| async move {
            let started = Instant::now();
            let outcome = tokio::time::timeout(CHECK_TIMEOUT, dependency.check())
                .await
                .unwrap_or_else(|_| Err("timed out".into()));
            if let Err(error) = &outcome {
                tracing::debug!(dependency = %name, %error, "dependency check failed");
            }
            let report = CheckReport {
                status: if outcome.is_ok() {
                    CheckStatus::Up
                } else {
                    CheckStatus::Down
                },
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                error: outcome.err(),
                target: dependency.target(),
            };
            (name.clone(), report)
        });
        join_all(runs).await.into_iter().collect()
    }
}

/// The state of one dependency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckReport {
    /// `up` or `down`.
    pub status: CheckStatus,
    /// How long the check took.
    pub latency_ms: u64,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where it was reached, for HTTP services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Whether a dependency answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// It answered in time.
    Up,
    /// It did not.
    Down,
}

/// The body of `/health` and `/ready`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok`/`degraded` for `/health`, `ready`/`not_ready` for `/ready`.
    pub status: String,
    /// The binary's name.
    pub service: String,
    /// The binary's version.
    pub version: String,
    /// Each dependency by name.
    pub checks: BTreeMap<String, CheckReport>,
}

/// What the operational endpoints need.
#[derive(Clone)]
pub struct OpsState {
    pub(crate) service: &'static str,
    /// Checked by `/ready`: any one down makes it 503.
    pub(crate) readiness: Checks,
    /// Reported by `/health`, which stays 200 while the process is up.
    pub(crate) informational: Checks,
    pub(crate) openapi: Arc<utoipa::openapi::OpenApi>,
}

impl std::fmt::Debug for OpsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsState")
            .field("service", &self.service)
            .field("readiness", &self.readiness)
            .field("informational", &self.informational)
            .finish_non_exhaustive()
    }
}

impl OpsState {
    fn report(&self, status: &str, checks: BTreeMap<String, CheckReport>) -> HealthReport {
        HealthReport {
            status: status.to_owned(),
            service: self.service.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            checks,
        }
    }
}

fn all_up(checks: &BTreeMap<String, CheckReport>) -> bool {
    checks.values().all(|check| check.status == CheckStatus::Up)
}

/// The process is up; reports the state of what it talks to without failing on it.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process is up", body = HealthReport)))]
pub async fn get_health(State(state): State<OpsState>) -> Json<HealthReport> {
    let checks = state.informational.run().await;
    let status = if all_up(&checks) { "ok" } else { "degraded" };
    Json(state.report(status, checks))
}

/// Every store this binary needs answers.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Every dependency answers", body = HealthReport),
        (status = 503, description = "At least one dependency is down", body = HealthReport)))]
pub async fn get_readiness(State(state): State<OpsState>) -> impl IntoResponse {
    let checks = state.readiness.run().await;
    if all_up(&checks) {
        (StatusCode::OK, Json(state.report("ready", checks)))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(state.report("not_ready", checks)),
        )
    }
}

/// This binary's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn get_openapi(State(state): State<OpsState>) -> impl IntoResponse {
    Json(state.openapi.as_ref().clone())
}

/// Prometheus metrics of this process.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn get_metrics() -> impl IntoResponse {
    crate::metrics::render_metrics().await
}
