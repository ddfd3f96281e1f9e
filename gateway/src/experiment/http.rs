//! `/admin/experiments`: start an experiment, read its numbers and verdict, stop it.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;

use super::{
    Experiments,
    model::{Experiment, ExperimentState, Goal, Variant},
    report::{ExperimentReport, report},
    tally,
};
use crate::state::GatewayState;

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

/// How an experiment ends.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopExperiment {
    /// The variant everyone is sent to; by default the verdict's winner.
    pub winner: Option<String>,
}

fn is_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn validate(state: &GatewayState, request: NewExperiment) -> Result<Experiment, Problem> {
    let mut errors = Vec::new();
    if !is_name(&request.name) {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 64 letters, digits, `-`, `_` or `.`",
        ));
    }
    let service = state
        .backends
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
        created_at: crate::deploy::now(),
        stopped_at: None,
    })
}

fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "redis-unavailable",
        "Service unavailable",
    )
    .with_detail("Experiments are kept in Redis, which does not answer.")
}

fn not_found(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "unknown-experiment",
        "Unknown experiment",
    )
    .with_detail(format!("No experiment has the id `{id}`."))
}

fn conflict(detail: String) -> Problem {
    Problem::new(StatusCode::CONFLICT, "experiment-conflict", "Conflict").with_detail(detail)
}

impl Experiments {
    async fn find(&self, id: &str) -> Result<Experiment, Problem> {
        self.load()
            .await
            .ok_or_else(unavailable)?
            .into_iter()
            .find(|experiment| experiment.id == id)
            .ok_or_else(|| not_found(id))
    }
}

/// Starts an experiment on a route (admins only).
#[utoipa::path(post, path = "/admin/experiments", tag = "experiments",
    request_body = NewExperiment, security(("bearer" = [])),
    responses(
        (status = 201, description = "Started; its numbers at the `Location`", body = Experiment),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another experiment covers the route", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (it is named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn create_experiment(
    State(state): State<GatewayState>,
    JsonBody(request): JsonBody<NewExperiment>,
) -> Result<Response, Problem> {
    let experiment = validate(&state, request)?;
    let experiments = &state.experiments;
    let existing = experiments.load().await.ok_or_else(unavailable)?;
    if let Some(other) = existing
        .iter()
        .find(|other| other.covers(&experiment.route) || experiment.covers(&other.route))
    {
        return Err(conflict(format!(
            "The experiment `{}` ({}) covers {} already.",
            other.name, other.id, other.route
        )));
    }
    experiments
        .save(&experiment)
        .await
        .ok_or_else(unavailable)?;
    tracing::info!(experiment = %experiment.id, name = %experiment.name, route = %experiment.route, "experiment started");
    let mut response = (StatusCode::CREATED, Json(&experiment)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/admin/experiments/{}", experiment.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Every experiment (admins only).
#[utoipa::path(get, path = "/admin/experiments", tag = "experiments",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every experiment, running or stopped", body = [Experiment]),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn list_experiments(
    State(state): State<GatewayState>,
) -> Result<Json<Vec<Experiment>>, Problem> {
    state
        .experiments
        .load()
        .await
        .map(Json)
        .ok_or_else(unavailable)
}

/// An experiment's numbers per variant, the difference on its goal, the sample-ratio check
/// and the verdict (admins only).
#[utoipa::path(get, path = "/admin/experiments/{id}", tag = "experiments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 200, description = "The experiment and what it measured", body = ExperimentReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such experiment", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn get_experiment(
    State(state): State<GatewayState>,
    Path(id): Path<String>,
) -> Result<Json<ExperimentReport>, Problem> {
    let experiment = state.experiments.find(&id).await?;
    let totals = tally::totals(&state.experiments.0.store, &id)
        .await
        .ok_or_else(unavailable)?;
    Ok(Json(report(experiment, &totals)))
}

/// Stops an experiment: everyone is sent to the winner from then on (admins only).
#[utoipa::path(post, path = "/admin/experiments/{id}/stop", tag = "experiments",
    request_body = StopExperiment, security(("bearer" = [])),
    params(("id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 200, description = "Stopped", body = Experiment),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such experiment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stopped already, or no winner declared nor named", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The winner is not one of its variants", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn stop_experiment(
    State(state): State<GatewayState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StopExperiment>,
) -> Result<Json<Experiment>, Problem> {
    let experiments = &state.experiments;
    let mut experiment = experiments.find(&id).await?;
    if experiment.state == ExperimentState::Stopped {
        return Err(conflict(format!("The experiment {id} is stopped already.")));
    }
    let winner = match request.winner {
        Some(winner) if experiment.variant_index(&winner).is_some() => winner,
        Some(_) => {
            return Err(Problem::validation(vec![FieldError::new(
                "winner",
                "must be the name of one of its variants",
            )]));
        }
        None => {
            let totals = tally::totals(&experiments.0.store, &id)
                .await
                .ok_or_else(unavailable)?;
            report(experiment.clone(), &totals)
                .verdict
                .winner
                .ok_or_else(|| {
                    conflict(
                        "No winner is declared yet: name the variant to keep in `winner`."
                            .to_owned(),
                    )
                })?
        }
    };
    experiment.state = ExperimentState::Stopped;
    experiment.winner = Some(winner);
    experiment.stopped_at = Some(crate::deploy::now());
    experiments
        .save(&experiment)
        .await
        .ok_or_else(unavailable)?;
    tracing::info!(experiment = %experiment.id, winner = ?experiment.winner, "experiment stopped");
    Ok(Json(experiment))
}
