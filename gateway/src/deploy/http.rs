//! `/admin/deployments/{service}`: start a deployment, follow it, roll it back.

use axum::{
    Json, Router,
    extract::{FromRef, Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;
use shared::{FieldError, JsonBody, Problem};
use tokio::time::Instant;
use utoipa::ToSchema;

use super::{
    DeployStore, Deployments,
    record::{DeployState, Deployment, millis},
    request::{DeployRequest, is_colour},
};
use crate::colours::DEFAULT_LIVE;

impl Deployments {
    /// Every backend's live colour and latest deployment; `None` without a registry or
    /// while it does not answer.
    pub async fn statuses(&self) -> Option<Vec<DeploymentStatus>> {
        let store = self.0.store.as_ref()?;
        let names: Vec<&str> = self.0.backends.iter().map(|backend| backend.name).collect();
        let live = store.live_colours(&names).await.ok()?;
        let mut statuses = Vec::with_capacity(names.len());
        for (service, live_colour) in names.into_iter().zip(live) {
            statuses.push(DeploymentStatus {
                service: service.to_owned(),
                live_colour,
                deployment: store.latest(service).await.ok()?,
            });
        }
        Some(statuses)
    }
}

/// A service's live colour and latest deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentStatus {
    pub service: String,
    pub live_colour: String,
    pub deployment: Option<Deployment>,
}

fn unknown_service(service: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "unknown-service", "Unknown service")
        .with_detail(format!("No backend is named `{service}`."))
}

fn conflict(detail: String) -> Problem {
    Problem::new(StatusCode::CONFLICT, "deployment-conflict", "Conflict").with_detail(detail)
}

impl Deployments {
    /// Where `service`'s deployments are kept: 404 for no such backend, 503 without a
    /// registry.
    fn store_for(&self, service: &str) -> Result<&DeployStore, Problem> {
        if self.backend(service).is_none() {
            return Err(unknown_service(service));
        }
        self.0.store.as_ref().ok_or_else(store_unavailable)
    }
}

fn store_unavailable() -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "registry-unavailable", "Service unavailable")
        .with_detail("Deployments are kept in the service registry (REGISTRY_URL), which is not configured or does not answer.")
}

/// Deploys the idle colour of `service`: smoke checks, switch, drain, watch (admins only).
#[utoipa::path(post, path = "/admin/deployments/{service}", tag = "deployments",
    request_body = DeployRequest, security(("bearer" = [])),
    params(("service" = String, Path, description = "A backend's name (`restaurant-service`)")),
    responses(
        (status = 202, description = "Started; follow it at the same path", body = Deployment),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such backend", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The colour is live already, or another deployment is under way", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A setting is invalid (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No service registry", body = Problem, content_type = "application/problem+json")))]
pub async fn create_deployment(
    State(deployments): State<Deployments>,
    Path(service): Path<String>,
    JsonBody(request): JsonBody<DeployRequest>,
) -> Result<Response, Problem> {
    if deployments.backend(&service).is_none() {
        return Err(unknown_service(&service));
    }
    let settings = deployments.settings(&request)?;
    let store = deployments.store_for(&service)?;
    let live = store
        .live_colours(&[service.as_str()])
        .await
        .map_err(|_| store_unavailable())?
        .pop()
        .unwrap_or_else(|| DEFAULT_LIVE.to_owned());
    let colour = match (request.colour.as_deref(), live.as_str()) {
        (Some(colour), _) if is_colour(colour) => colour.to_owned(),
        (Some(_), _) => {
            return Err(Problem::validation(vec![FieldError::new(
                "colour",
                "must be 1 to 32 lowercase letters, digits or dashes",
            )]));
        }
        (None, "blue") => "green".to_owned(),
        (None, "green") => "blue".to_owned(),
        (None, _) => {
            return Err(Problem::validation(vec![FieldError::new(
                "colour",
                format!("the live colour is `{live}`: name the colour to deploy"),
            )]));
        }
    };
    if colour == live {
        return Err(conflict(format!("{colour} is already live for {service}.")));
    }
    let deployment = Deployment::new(&service, &live, &colour, settings);
    match store.save(&deployment, None).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(conflict(format!(
                "A deployment of {service} is under way; roll it back or wait for its end."
            )));
        }
        Err(_) => return Err(store_unavailable()),
    }
    tokio::spawn(deployments.clone().run(deployment.clone()));
    let mut response = (StatusCode::ACCEPTED, Json(deployment)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/admin/deployments/{service}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A service's live colour and its latest deployment, step by step (admins only).
#[utoipa::path(get, path = "/admin/deployments/{service}", tag = "deployments",
    security(("bearer" = [])),
    params(("service" = String, Path, description = "A backend's name (`restaurant-service`)")),
    responses(
        (status = 200, description = "The live colour and the latest deployment, if any", body = DeploymentStatus),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such backend", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No service registry", body = Problem, content_type = "application/problem+json")))]
pub async fn get_deployment(
    State(deployments): State<Deployments>,
    Path(service): Path<String>,
) -> Result<Json<DeploymentStatus>, Problem> {
    let store = deployments.store_for(&service)?;
    let services = [service.as_str()];
    let (live, deployment) =
        tokio::try_join!(store.live_colours(&services), store.latest(&service))
            .map_err(|_| store_unavailable())?;
    let live_colour = live
        .into_iter()
        .next()
        .unwrap_or_else(|| DEFAULT_LIVE.to_owned());
    Ok(Json(DeploymentStatus {
        live_colour,
        service,
        deployment,
    }))
}

/// Switches `service` back to the colour live before its latest deployment, at once; a
/// deployment that has not switched yet is aborted (admins only).
#[utoipa::path(post, path = "/admin/deployments/{service}/rollback", tag = "deployments",
    security(("bearer" = [])),
    params(("service" = String, Path, description = "A backend's name (`restaurant-service`)")),
    responses(
        (status = 200, description = "Switched back (or aborted before the switch)", body = Deployment),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such backend", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to roll back", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No service registry", body = Problem, content_type = "application/problem+json")))]
pub async fn rollback_deployment(
    State(deployments): State<Deployments>,
    Path(service): Path<String>,
) -> Result<Json<Deployment>, Problem> {
    let store = deployments.store_for(&service)?;
    let mut deployment = store
        .latest(&service)
        .await
        .map_err(|_| store_unavailable())?
        .filter(|d| !d.state.is_final() || d.state == DeployState::Promoted)
        .ok_or_else(|| conflict(format!("{service} has no deployment to roll back.")))?;
    let decided = Instant::now();
    let from = deployment.from.clone();
    if deployment.state.switched() {
        deployment.step(
            DeployState::RolledBack,
            "rolled-back",
            format!("on request; {from} takes the traffic again"),
        );
    } else {
        deployment.step(
            DeployState::Aborted,
            "aborted",
            "on request, before the switch",
        );
    }
    store
        .overwrite(&deployment, &from)
        .await
        .map_err(|_| store_unavailable())?;
    deployments.0.discovery.switch(&service, &from).await;
    if deployment.state == DeployState::RolledBack {
        deployment.timings.time_to_revert_ms = Some(millis(decided.elapsed()));
        if let Err(err) = store.overwrite(&deployment, &from).await {
            tracing::warn!(%service, error = %err, "cannot record the rollback's timing");
        }
    }
    Ok(Json(deployment))
}

/// The deployments' routes.
pub fn router<S>() -> Router<S>
where
    Deployments: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/admin/deployments/{service}",
            get(get_deployment).post(create_deployment),
        )
        .route(
            "/admin/deployments/{service}/rollback",
            post(rollback_deployment),
        )
}
