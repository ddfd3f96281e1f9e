// utoipa's expansion of `params(TimelineQuery)` qualifies a path this module imports.
#![allow(unused_qualifications)]

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use shared::{
    FieldError, Problem, QueryParams,
    auth::{AuthUser, Permission},
};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{
    error::TrackingError,
    read_models::{self, ActiveDelivery, StatusView, TimelineEntry, status_of},
    state::AppState,
};

/// The status, if `caller` may see it: its customer, its courier, or `deliveries:manage`.
pub(super) async fn visible_status(
    state: &AppState,
    caller: &AuthUser,
    delivery: Uuid,
) -> Result<StatusView, TrackingError> {
    let status = status_of(&state.db, delivery)
        .await?
        .ok_or(TrackingError::NotFound)?;
    let me = Some(caller.0.sub);
    if caller.0.has(Permission::DELIVERIES_MANAGE)
        || status.customer_id == me
        || status.courier_id == me
    {
        Ok(status)
    } else {
        Err(TrackingError::NotFound)
    }
}

/// Current status and position (from the read model, never from the events).
#[utoipa::path(get, path = "/tracking/{delivery_id}", tag = "tracking", security(("bearer" = [])),
    params(("delivery_id" = Uuid, Path, description = "Delivery (order) id")),
    responses(
        (status = 200, description = "Status and position", body = StatusView),
        (status = 404, description = "Not tracked, or not the caller's", body = Problem, content_type = "application/problem+json")))]
pub async fn get_tracking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(delivery): Path<Uuid>,
) -> Result<Json<StatusView>, TrackingError> {
    Ok(Json(visible_status(&state, &caller, delivery).await?))
}

/// Paging of a timeline: entries after a version.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Only entries after this version (the last one seen).
    pub after: Option<i32>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<i64>,
}

/// The delivery's timeline, oldest first, a page at a time (`after` the last version seen).
#[utoipa::path(get, path = "/tracking/{delivery_id}/events", tag = "tracking", security(("bearer" = [])),
    params(("delivery_id" = Uuid, Path, description = "Delivery (order) id"), TimelineQuery),
    responses(
        (status = 200, description = "The timeline", body = [TimelineEntry]),
        (status = 422, description = "A query parameter is out of range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not tracked, or not the caller's", body = Problem, content_type = "application/problem+json")))]
pub async fn get_timeline(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(delivery): Path<Uuid>,
    QueryParams(query): QueryParams<TimelineQuery>,
) -> Result<Json<Vec<TimelineEntry>>, TrackingError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(TrackingError::Validation(vec![FieldError::new(
            "limit",
            "must be 1 to 500",
        )]));
    }
    visible_status(&state, &caller, delivery).await?;
    let entries =
        read_models::timeline(&state.db, delivery, query.after.unwrap_or(0), limit).await?;
    Ok(Json(entries))
}

/// The deliveries a courier has under way (the courier, or `deliveries:manage`).
#[utoipa::path(get, path = "/tracking/couriers/{courier_id}/active", tag = "tracking", security(("bearer" = [])),
    params(("courier_id" = Uuid, Path, description = "Courier (user) id")),
    responses(
        (status = 200, description = "Deliveries under way", body = [ActiveDelivery]),
        (status = 404, description = "Not the caller's", body = Problem, content_type = "application/problem+json")))]
pub async fn get_active_deliveries(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(courier): Path<Uuid>,
) -> Result<Json<Vec<ActiveDelivery>>, TrackingError> {
    if courier != caller.0.sub && !caller.0.has(Permission::DELIVERIES_MANAGE) {
        return Err(TrackingError::NotFound);
    }
    Ok(Json(
        read_models::active_deliveries(&state.db, courier).await?,
    ))
}
