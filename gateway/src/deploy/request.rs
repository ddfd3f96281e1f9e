//! What a deployment request may set, and its defaults from the gateway's `DEPLOY_*`.

use std::time::Duration;

use serde::Deserialize;
use shared::{FieldError, Problem};
use utoipa::ToSchema;

use super::{
    Deployments,
    record::{DeploySettings, SmokeCheck, millis},
};

/// A deployment asked for; every field but `colour` defaults to the gateway's `DEPLOY_*`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The colour to deploy, its instances already registered with it; by default the one
    /// of `blue` and `green` that is not live.
    pub colour: Option<String>,
    pub smoke_checks: Option<Vec<SmokeCheck>>,
    /// How long the new colour is watched after the switch (`30s`).
    pub window: Option<String>,
    /// The error rate, in percent, that switches back.
    pub max_error_rate: Option<f64>,
    /// The p99 latency that switches back (`500ms`).
    pub max_p99: Option<String>,
    /// Calls before either threshold is judged.
    pub min_requests: Option<u64>,
    /// How long the colour has to register and pass its smoke checks (`2m`).
    pub promote_within: Option<String>,
}

fn duration(field: &str, text: Option<&str>, default: Duration) -> Result<u64, FieldError> {
    text.map_or(Ok(default), |text| {
        humantime::parse_duration(text)
            .ok()
            .filter(|duration| !duration.is_zero())
            .ok_or_else(|| FieldError::new(field, "must be a duration such as `30s` or `500ms`"))
    })
    .map(millis)
}

impl Deployments {
    pub(super) fn settings(&self, request: &DeployRequest) -> Result<DeploySettings, Problem> {
        let args = &self.0.args;
        let mut errors = Vec::new();
        let mut take = |result: Result<u64, FieldError>| {
            result
                .map_err(|error| errors.push(error))
                .unwrap_or_default()
        };
        let window_ms = take(duration(
            "window",
            request.window.as_deref(),
            args.deploy_window,
        ));
        let max_p99_ms = take(duration(
            "max_p99",
            request.max_p99.as_deref(),
            args.deploy_max_p99,
        ));
        let promote_within_ms = take(duration(
            "promote_within",
            request.promote_within.as_deref(),
            args.deploy_promote_within,
        ));
        let max_error_rate = request.max_error_rate.unwrap_or(args.deploy_max_error_rate);
        if !(0.0..=100.0).contains(&max_error_rate) {
            errors.push(FieldError::new(
                "max_error_rate",
                "must be a percentage from 0 to 100",
            ));
        }
        let smoke_checks = request
            .smoke_checks
            .clone()
            .unwrap_or_else(|| args.deploy_smoke_checks.0.clone());
        for (n, check) in smoke_checks.iter().enumerate() {
            if !check.path.starts_with('/') || check.path.len() > 2048 {
                errors.push(FieldError::new(
                    format!("smoke_checks[{n}].path"),
                    "must be a path starting with `/`",
                ));
            }
            if !(100..=599).contains(&check.status) {
                errors.push(FieldError::new(
                    format!("smoke_checks[{n}].status"),
                    "must be an HTTP status",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        Ok(DeploySettings {
            smoke_checks,
            window_ms,
            max_error_rate,
            max_p99_ms,
            min_requests: request.min_requests.unwrap_or(args.deploy_min_requests),
            promote_within_ms,
        })
    }
}

/// Whether `text` may name a colour.
pub fn is_colour(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
