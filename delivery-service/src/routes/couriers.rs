use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use shared::{
    FieldError, JsonBody, Problem,
    auth::{AuthUser, Permission},
};
use utoipa::ToSchema;

use crate::{
    couriers::{self, CourierView},
    error::DeliveryError,
    geo::Point,
    state::AppState,
};

const VEHICLES: [&str; 4] = ["bicycle", "scooter", "car", "foot"];

/// The body of `POST /delivery/couriers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourierProfile {
    pub name: String,
    /// `bicycle`, `scooter`, `car` or `foot`.
    pub vehicle: String,
}

/// Whether I take deliveries now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    pub available: bool,
}

/// Registers my courier profile (needs the courier role).
#[utoipa::path(post, path = "/delivery/couriers", tag = "couriers", security(("bearer" = [])),
    request_body = CourierProfile,
    responses(
        (status = 201, description = "Registered", body = CourierView),
        (status = 403, description = "Not a courier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn register_courier(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(profile): JsonBody<CourierProfile>,
) -> Result<impl IntoResponse, DeliveryError> {
    caller.require(Permission::COURIERS_MANAGE_OWN)?;
    let mut errors = Vec::new();
    let name = profile.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must have 1 to 100 characters"));
    }
    let vehicle = profile.vehicle.trim().to_lowercase();
    if !VEHICLES.contains(&vehicle.as_str()) {
        errors.push(FieldError::new(
            "vehicle",
            "must be bicycle, scooter, car or foot",
        ));
    }
    if !errors.is_empty() {
        return Err(DeliveryError::Validation(errors));
    }
    let courier = couriers::register(&state.db, caller.0.sub, name, &vehicle)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DeliveryError::Conflict("You are registered already.".into())
            }
            _ => err.into(),
        })?;
    Ok((StatusCode::CREATED, Json(courier)))
}

/// Starts or stops taking deliveries.
#[utoipa::path(put, path = "/delivery/couriers/me/availability", tag = "couriers", security(("bearer" = [])),
    request_body = Availability,
    responses(
        (status = 200, description = "Updated", body = CourierView),
        (status = 403, description = "Not a courier", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No courier profile", body = Problem, content_type = "application/problem+json")))]
pub async fn set_availability(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(change): JsonBody<Availability>,
) -> Result<Json<CourierView>, DeliveryError> {
    caller.require(Permission::COURIERS_MANAGE_OWN)?;
    couriers::set_availability(&state.db, caller.0.sub, change.available)
        .await?
        .map(Json)
        .ok_or(DeliveryError::NotFound("courier profile"))
}

/// Reports where I am.
#[utoipa::path(put, path = "/delivery/couriers/me/location", tag = "couriers", security(("bearer" = [])),
    request_body = Point,
    responses(
        (status = 200, description = "Updated", body = CourierView),
        (status = 403, description = "Not a courier", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No courier profile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of range", body = Problem, content_type = "application/problem+json")))]
pub async fn set_location(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(point): JsonBody<Point>,
) -> Result<Json<CourierView>, DeliveryError> {
    caller.require(Permission::COURIERS_MANAGE_OWN)?;
    let mut errors = Vec::new();
    point.check("location", &mut errors);
    if !errors.is_empty() {
        return Err(DeliveryError::Validation(errors));
    }
    couriers::set_location(&state.db, caller.0.sub, &point)
        .await?
        .map(Json)
        .ok_or(DeliveryError::NotFound("courier profile"))
}
