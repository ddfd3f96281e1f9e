//! What a new experiment must say, checked field by field.

use serde::Deserialize;
use shared::{FieldError, Problem};
use utoipa::ToSchema;

use super::model::{Experiment, ExperimentState, Goal, Variant};
use gateway_upstream::Backend;

/// An experiment asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    /// Letters, digits, `-`, `_` or `.`; shown in each answer's `X-Experiment`.
    pub name: String,
    /// The path prefix whose requests are split (`/restaurants`).
    pub route: String,
    /// Exactly two: the control, then the treatment; each names a `version`, a `colour` or
    /// both of the instances it goes to.
    pub variants: Vec<Variant>,
    /// Percent of users sent to the second variant (default 50).
    pub split: Option<f64>,
    /// Default: conversion, an order placed (`POST /orders` answered 2xx) after a view.
    pub goal: Option<Goal>,
    /// Users (conversion) or calls (latency, error rate) per variant before a verdict
    /// (default 100).
    pub min_sample: Option<u64>,
}

fn is_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub fn validate(backends: &[Backend], request: NewExperiment) -> Result<Experiment, Problem> {
    let mut errors = Vec::new();
    if !is_name(&request.name) {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 64 letters, digits, `-`, `_` or `.`",
        ));
    }
    let service = backends
        .iter()
        .find(|backend| {
            request
                .route
                .strip_prefix(backend.prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .map(|backend| backend.name);
    if service.is_none() {
        errors.push(FieldError::new(
            "route",
            "must be a path under a backend's prefix (`/restaurants`)",
        ));
    }
    if request.variants.len() == 2 {
        for (n, variant) in request.variants.iter().enumerate() {
            if !is_name(&variant.name) {
                errors.push(FieldError::new(
                    format!("variants[{n}].name"),
                    "must be 1 to 64 letters, digits, `-`, `_` or `.`",
                ));
            }
            if variant.instances.colour.is_none() && variant.instances.version.is_none() {
                errors.push(FieldError::new(
                    format!("variants[{n}]"),
                    "must name a `version`, a `colour` or both",
                ));
            }
        }
        if request.variants[0].name == request.variants[1].name {
            errors.push(FieldError::new(
                "variants[1].name",
                "must differ from the first's",
            ));
        }
    } else {
        errors.push(FieldError::new(
            "variants",
            "must hold exactly two variants",
        ));
    }
    let split = request.split.unwrap_or(50.0);
    if !(split > 0.0 && split < 100.0) {
        errors.push(FieldError::new(
            "split",
            "must be a percentage above 0 and below 100",
        ));
    }
    let goal = request.goal.unwrap_or(Goal::Conversion {
        method: "POST".to_owned(),
        path: "/orders".to_owned(),
    });
    if let Goal::Conversion { path, method } = &goal
        && (!path.starts_with('/') || method.parse::<http::Method>().is_err())
    {
        errors.push(FieldError::new(
            "goal",
            "a conversion names a method and a path starting with `/`",
        ));
    }
    let min_sample = request.min_sample.unwrap_or(100);
    if min_sample == 0 {
        errors.push(FieldError::new("min_sample", "must be at least 1"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(Experiment {
        id: uuid::Uuid::now_v7().to_string(),
        name: request.name,
        route: request.route.trim_end_matches('/').to_owned(),
        service: service.unwrap_or_default().to_owned(),
        variants: request.variants,
        split,
        goal,
        min_sample,
        state: ExperimentState::Running,
        winner: None,
        created_at: crate::clock::now(),
        stopped_at: None,
    })
}
