//! `/admin/experiments`: start an experiment, read its numbers and verdict, stop it, delete
//! it once stopped.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRef, Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;

use super::{
    Experiments,
    model::{Experiment, ExperimentState},
    new::{NewExperiment, validate},
    report::{ExperimentReport, report},
    tally,
};
use gateway_upstream::Backend;

/// How an experiment ends.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopExperiment {
    /// The variant everyone is sent to; by default the verdict's winner.
    pub winner: Option<String>,
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
        (status = 409, description = "Another running experiment covers the route", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (it is named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn create_experiment(
    State(experiments): State<Experiments>,
    State(backends): State<Arc<[Backend]>>,
    JsonBody(request): JsonBody<NewExperiment>,
) -> Result<Response, Problem> {
    let experiment = validate(&backends, request)?;
    let existing = experiments.load().await.ok_or_else(unavailable)?;
    if let Some(other) = existing.iter().find(|other| {
        other.state == ExperimentState::Running
            && (other.covers(&experiment.route) || experiment.covers(&other.route))
    }) {
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
    State(experiments): State<Experiments>,
) -> Result<Json<Vec<Experiment>>, Problem> {
    experiments.load().await.map(Json).ok_or_else(unavailable)
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
    State(experiments): State<Experiments>,
    Path(id): Path<String>,
) -> Result<Json<ExperimentReport>, Problem> {
    let experiment = experiments.find(&id).await?;
    let totals = tally::totals(&experiments.0.store, &id)
        .await
        .ok_or_else(unavailable)?;
    Ok(Json(report(experiment, &totals)))
}

/// Stops an experiment: its route is served as if there had been none from then on (cached,
/// no cookie, no `X-Experiment`), and the winner is recorded (admins only).
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
    State(experiments): State<Experiments>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StopExperiment>,
) -> Result<Json<Experiment>, Problem> {
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
    experiment.stopped_at = Some(crate::clock::now());
    experiments
        .save(&experiment)
        .await
        .ok_or_else(unavailable)?;
    tracing::info!(experiment = %experiment.id, winner = ?experiment.winner, "experiment stopped");
    Ok(Json(experiment))
}

/// Deletes a stopped experiment and its numbers (admins only); a running one must be
/// stopped first, so that its verdict is recorded.
#[utoipa::path(delete, path = "/admin/experiments/{id}", tag = "experiments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 204, description = "Deleted, with its numbers"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such experiment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It still runs: stop it first", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn delete_experiment(
    State(experiments): State<Experiments>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let experiment = experiments.find(&id).await?;
    if experiment.state == ExperimentState::Running {
        return Err(conflict(format!(
            "The experiment {id} still runs: stop it first (`POST /admin/experiments/{id}/stop`)."
        )));
    }
    if !experiments.remove(&id).await.ok_or_else(unavailable)? {
        return Err(not_found(&id));
    }
    tracing::info!(experiment = %id, "experiment deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The experiments' routes.
pub fn router<S>() -> Router<S>
where
    Experiments: FromRef<S>,
    Arc<[Backend]>: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/admin/experiments",
            get(list_experiments).post(create_experiment),
        )
        .route(
            "/admin/experiments/{id}",
            get(get_experiment).delete(delete_experiment),
        )
        .route("/admin/experiments/{id}/stop", post(stop_experiment))
}
