//! A deployment as it is kept in Redis and shown at `GET /admin/deployments/{service}`: what
//! was asked, every step with its time, and the measured timings.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::now;

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeployState {
    /// Waiting for the new colour's instances to register.
    Pending,
    /// Calling the new colour's smoke checks.
    SmokeTesting,
    /// Traffic moved; the old colour's calls in flight finishing.
    Draining,
    /// Traffic moved; the new colour's error rate and p99 watched for the window.
    Watching,
    /// The window passed within the thresholds: done.
    Promoted,
    /// A smoke check failed; traffic never moved.
    SmokeFailed,
    /// Traffic moved back: asked for, or a threshold crossed.
    RolledBack,
    /// Ended before traffic moved (asked for, or not ready in time).
    Aborted,
}

impl DeployState {
    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Promoted | Self::SmokeFailed | Self::RolledBack | Self::Aborted
        )
    }

    /// The state's name, as the API and the metrics write it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::SmokeTesting => "smoke-testing",
            Self::Draining => "draining",
            Self::Watching => "watching",
            Self::Promoted => "promoted",
            Self::SmokeFailed => "smoke-failed",
            Self::RolledBack => "rolled-back",
            Self::Aborted => "aborted",
        }
    }

    /// Whether traffic has moved to the new colour (and not back).
    pub fn switched(self) -> bool {
        matches!(self, Self::Draining | Self::Watching | Self::Promoted)
    }
}

/// One smoke check: a `GET` of `path` on every instance must answer `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SmokeCheck {
    pub path: String,
    pub status: u16,
}

/// What a deployment goes by, from the request or the gateway's defaults.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploySettings {
    pub smoke_checks: Vec<SmokeCheck>,
    /// How long the new colour is watched after the switch.
    pub window_ms: u64,
    /// The error rate (failed calls in percent) that reverts the switch.
    pub max_error_rate: f64,
    /// The p99 latency that reverts the switch.
    pub max_p99_ms: u64,
    /// Calls needed before either threshold is judged.
    pub min_requests: u64,
    /// How long the new colour has to register and pass its smoke checks.
    pub promote_within_ms: u64,
}

/// One instance deployed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeployedInstance {
    pub id: String,
    pub url: String,
    pub version: String,
}

/// One step, as it happened.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Step {
    /// When (RFC 3339).
    pub at: String,
    /// Milliseconds since the deployment started.
    pub elapsed_ms: u64,
    pub step: String,
    pub detail: String,
}

/// The measured timings, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Timings {
    /// From the smoke checks passing to the new colour taking this gateway's traffic (and
    /// the live colour written to Redis for the others).
    pub time_to_switch_ms: Option<u64>,
    /// From the switch to the last call in flight to the old colour finishing.
    pub drain_ms: Option<u64>,
    /// After an automatic rollback: from the first failed or slow call seen on the new colour
    /// to the decision to revert.
    pub time_to_detect_ms: Option<u64>,
    /// After a rollback: from the decision to the old colour taking the traffic again.
    pub time_to_revert_ms: Option<u64>,
}

/// The new colour's calls since the switch, as this gateway saw them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Analysis {
    pub requests: u64,
    pub failures: u64,
    /// Failed calls in percent.
    pub error_rate: f64,
    pub p99_ms: f64,
}

/// A deployment of a new colour of one service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: String,
    pub service: String,
    /// The colour live when it started.
    pub from: String,
    /// The colour deployed.
    pub to: String,
    pub state: DeployState,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The new colour's instances, once they were smoke-tested.
    pub instances: Vec<DeployedInstance>,
    pub settings: DeploySettings,
    pub steps: Vec<Step>,
    pub timings: Timings,
    pub analysis: Option<Analysis>,
}

impl Deployment {
    /// A deployment of `to` over `from`, starting now.
    pub fn new(service: &str, from: &str, to: &str, settings: DeploySettings) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            service: service.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            state: DeployState::Pending,
            started_at: now(),
            finished_at: None,
            instances: Vec::new(),
            settings,
            steps: Vec::new(),
            timings: Timings::default(),
            analysis: None,
        }
    }

    /// Adds a step (and logs it), moving to `state`.
    pub fn step(&mut self, state: DeployState, step: &str, detail: impl Into<String>) {
        let detail = detail.into();
        tracing::info!(service = %self.service, deployment = %self.id, from = %self.from, to = %self.to, ?state, step, %detail, "deployment step");
        let elapsed_ms = chrono::DateTime::parse_from_rfc3339(&self.started_at)
            .ok()
            .and_then(|started| (Utc::now() - started.with_timezone(&Utc)).to_std().ok())
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            });
        self.steps.push(Step {
            at: now(),
            elapsed_ms,
            step: step.to_owned(),
            detail,
        });
        metrics::counter!("gateway_deployment_steps_total", "service" => self.service.clone(), "state" => state.label())
            .increment(1);
        self.state = state;
        if state.is_final() {
            self.finished_at = Some(now());
        }
    }
}

/// Milliseconds of `duration`, as the records keep them.
pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
