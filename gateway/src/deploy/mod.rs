//! Blue-green deployment, as Argo Rollouts and Flagger run it: each service has a live colour
//! and an idle one. A deployment names the idle colour (its instances already registered with
//! it), smoke-tests them, switches the traffic in one write to Redis (so that every gateway
//! agrees), lets the old colour's calls in flight finish, then watches the new colour's error
//! rate and p99 for a window and switches back by itself when either crosses its threshold.
//! A rollback switches back at once; a colour not ready within its time is aborted.

mod analysis;
pub mod http;
pub(crate) mod record;
mod request;
mod run;
mod smoke;
pub(crate) mod store;

use std::{sync::Arc, time::Duration};

use clap::Args;

pub use self::{http::DeploymentStatus, record::SmokeCheck, store::DeployStore};
use crate::discovery::Discovery;
use gateway_upstream::Backend;
use gateway_upstream::probe::ProbeClient;

/// The defaults of every deployment; a request may set its own.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Smoke checks of a new colour's instances: `GET path` must answer `status`, as
    /// `path=status` pairs, comma-separated.
    #[arg(long, env = "DEPLOY_SMOKE_CHECKS", default_value = "/ready=200", value_parser = parse_smoke_checks)]
    pub deploy_smoke_checks: SmokeChecks,
    /// How long the new colour is watched after the switch.
    #[arg(long, env = "DEPLOY_WINDOW", default_value = "60s", value_parser = humantime::parse_duration)]
    pub deploy_window: Duration,
    /// The error rate, in percent of the new colour's calls, that switches back.
    #[arg(long, env = "DEPLOY_MAX_ERROR_RATE", default_value_t = 5.0, value_parser = parse_percent)]
    pub deploy_max_error_rate: f64,
    /// The p99 latency of the new colour's calls that switches back.
    #[arg(long, env = "DEPLOY_MAX_P99", default_value = "1s", value_parser = humantime::parse_duration)]
    pub deploy_max_p99: Duration,
    /// Calls to the new colour before either threshold is judged.
    #[arg(long, env = "DEPLOY_MIN_REQUESTS", default_value_t = 20)]
    pub deploy_min_requests: u64,
    /// How long a new colour has to register and pass its smoke checks before the
    /// deployment is aborted.
    #[arg(long, env = "DEPLOY_PROMOTE_WITHIN", default_value = "2m", value_parser = humantime::parse_duration)]
    pub deploy_promote_within: Duration,
    /// How long the old colour's calls in flight are waited for after the switch.
    #[arg(long, env = "DEPLOY_DRAIN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub deploy_drain_timeout: Duration,
}

/// Smoke checks, as configured.
#[derive(Debug, Clone)]
pub struct SmokeChecks(pub Vec<SmokeCheck>);

fn parse_smoke_checks(text: &str) -> Result<SmokeChecks, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (path, status) = pair
                .rsplit_once('=')
                .ok_or_else(|| format!("`{pair}` is not path=status"))?;
            let status: u16 = status
                .parse()
                .ok()
                .filter(|status| (100..=599).contains(status))
                .ok_or_else(|| format!("`{status}` is not an HTTP status"))?;
            if !path.starts_with('/') {
                return Err(format!("`{path}` does not start with /"));
            }
            Ok(SmokeCheck {
                path: path.to_owned(),
                status,
            })
        })
        .collect::<Result<_, _>>()
        .map(SmokeChecks)
}

fn parse_percent(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|percent| (0.0..=100.0).contains(percent))
        .ok_or_else(|| format!("`{text}` is not a percentage from 0 to 100"))
}

/// Starts, follows and rolls back deployments; cloning shares it.
#[derive(Debug, Clone)]
pub struct Deployments(Arc<DeploymentsInner>);

#[derive(Debug)]
struct DeploymentsInner {
    args: DeployArgs,
    discovery: Discovery,
    /// `None` without a registry.
    store: Option<DeployStore>,
    backends: Arc<[Backend]>,
    client: ProbeClient,
}

impl Deployments {
    /// Deployments of `backends`' services, with `args`' defaults.
    pub fn new(
        args: DeployArgs,
        discovery: Discovery,
        backends: Arc<[Backend]>,
        client: ProbeClient,
    ) -> Self {
        Self(Arc::new(DeploymentsInner {
            args,
            store: discovery.colours().cloned().map(DeployStore::new),
            discovery,
            backends,
            client,
        }))
    }

    fn backend(&self, service: &str) -> Option<&Backend> {
        self.0
            .backends
            .iter()
            .find(|backend| backend.name == service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_checks_are_read_as_path_status_pairs() {
        let checks = parse_smoke_checks("/ready=200, /restaurants?limit=1=200").expect("valid");
        assert_eq!(checks.0.len(), 2);
        assert_eq!(checks.0[1].path, "/restaurants?limit=1");
        assert!(parse_smoke_checks("/ready").is_err());
        assert!(parse_smoke_checks("ready=200").is_err());
        assert!(parse_smoke_checks("/ready=999").is_err());
    }
}
