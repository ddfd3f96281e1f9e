use axum::{
    Json,
    extract::{Path, State},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    FieldError, JsonBody, Problem,
    auth::{AuthUser, Permission},
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::read_models::StatusView;
use crate::{error::TrackingError, events::Event, projections, state::AppState, streams};

/// An event to append, with the version the writer last saw.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    pub event: Event,
    /// The stream's version the writer's decision rests on (0 for a new stream).
    pub expected_version: i32,
}

/// A courier's position.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    pub lat: f64,
    pub lon: f64,
    /// When the device took the fix; never earlier than the previous one.
    pub recorded_at: DateTime<Utc>,
    /// If given, the append fails with 409 unless the stream is at this version.
    #[serde(default)]
    pub expected_version: Option<i32>,
}

/// What a rebuild did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rebuilt {
    pub events_replayed: usize,
}

/// Appends one event and projects it, in one transaction; publishes the new status.
async fn append(
    state: &AppState,
    delivery: Uuid,
    expected: Option<i32>,
    event: Event,
    check: impl FnOnce(&crate::events::Delivery) -> Result<(), TrackingError>,
) -> Result<StatusView, TrackingError> {
    let mut tx = state.db.begin().await?;
    streams::record(
        &mut tx,
        delivery,
        expected,
        event,
        state.snapshot_every,
        check,
    )
    .await?;
    tx.commit().await?;
    streams::publish(state, delivery).await
}

/// Appends a delivery event (operators and the services behind them: `deliveries:manage`).
#[utoipa::path(post, path = "/tracking/{delivery_id}/events", tag = "tracking", security(("bearer" = [])),
    params(("delivery_id" = Uuid, Path, description = "Delivery (order) id")), request_body = AppendRequest,
    responses(
        (status = 200, description = "The status after the event", body = StatusView),
        (status = 403, description = "Needs deliveries:manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, or an event that does not fit", body = Problem, content_type = "application/problem+json")))]
pub async fn append_event(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(delivery): Path<Uuid>,
    JsonBody(request): JsonBody<AppendRequest>,
) -> Result<Json<StatusView>, TrackingError> {
    caller.require(Permission::DELIVERIES_MANAGE)?;
    if let Event::LocationUpdated { .. } = request.event {
        return Err(TrackingError::Validation(vec![FieldError::new(
            "event.type",
            "locations are posted to /locations",
        )]));
    }
    Ok(Json(
        append(
            &state,
            delivery,
            Some(request.expected_version),
            request.event,
            |_| Ok(()),
        )
        .await?,
    ))
}

/// The assigned courier reports a position.
#[utoipa::path(post, path = "/tracking/{delivery_id}/locations", tag = "tracking", security(("bearer" = [])),
    params(("delivery_id" = Uuid, Path, description = "Delivery (order) id")), request_body = LocationRequest,
    responses(
        (status = 200, description = "The status after the update", body = StatusView),
        (status = 403, description = "Not the assigned courier", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No tracked delivery of that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, or the delivery is not under way", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of range, or earlier than the last position", body = Problem, content_type = "application/problem+json")))]
pub async fn record_location(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(delivery): Path<Uuid>,
    JsonBody(request): JsonBody<LocationRequest>,
) -> Result<Json<StatusView>, TrackingError> {
    let mut errors = Vec::new();
    if !(request.lat.is_finite() && (-90.0..=90.0).contains(&request.lat)) {
        errors.push(FieldError::new("lat", "must be between -90 and 90"));
    }
    if !(request.lon.is_finite() && (-180.0..=180.0).contains(&request.lon)) {
        errors.push(FieldError::new("lon", "must be between -180 and 180"));
    }
    if !errors.is_empty() {
        return Err(TrackingError::Validation(errors));
    }
    let courier = caller.0.sub;
    let allowed = caller.0.has(Permission::DELIVERIES_UPDATE_ASSIGNED);
    let event = Event::LocationUpdated {
        lat: request.lat,
        lon: request.lon,
        recorded_at: request.recorded_at,
    };
    let view = append(
        &state,
        delivery,
        request.expected_version,
        event,
        |current| {
            if current.status.is_none() {
                return Err(TrackingError::NotFound);
            }
            if !allowed || current.courier_id != Some(courier) {
                return Err(
                    Problem::new(http::StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                        .with_detail(
                            "Only the courier assigned to this delivery may report its position.",
                        )
                        .into(),
                );
            }
            if current
                .last_location_at
                .is_some_and(|last| request.recorded_at < last)
            {
                return Err(TrackingError::Validation(vec![FieldError::new(
                    "recorded_at",
                    "is earlier than the last position",
                )]));
            }
            Ok(())
        },
    )
    .await?;
    Ok(Json(view))
}

/// Empties every read model and rebuilds it from the events (`deliveries:manage`).
#[utoipa::path(post, path = "/tracking/admin/rebuild", tag = "tracking", security(("bearer" = [])),
    responses(
        (status = 200, description = "Rebuilt", body = Rebuilt),
        (status = 403, description = "Needs deliveries:manage", body = Problem, content_type = "application/problem+json")))]
pub async fn rebuild_projections(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<Rebuilt>, TrackingError> {
    caller.require(Permission::DELIVERIES_MANAGE)?;
    let events_replayed = projections::rebuild(&state.db).await?;
    tracing::info!(events_replayed, "read models rebuilt");
    Ok(Json(Rebuilt { events_replayed }))
}
