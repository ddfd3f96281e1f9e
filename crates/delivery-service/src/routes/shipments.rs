use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    JsonBody, Problem,
    auth::{AuthUser, Permission},
};
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{error::DeliveryError, geo::Point, state::AppState};

/// The body of `POST /delivery/shipments` (the saga's shipping step).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShipment {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub pickup: Point,
    pub dropoff: Point,
}

/// A shipment as its customer, its courier and operators see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ShipmentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub courier_id: Option<Uuid>,
    /// `CREATED` (no courier free yet), `ASSIGNED`, `PICKED_UP`, `DELIVERED`, `CANCELLED`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, order_id, customer_id, courier_id, status, created_at, updated_at";

/// Creates the order's shipment and assigns the nearest free courier. Creating it again for
/// the same order returns the same shipment.
#[utoipa::path(post, path = "/delivery/shipments", tag = "shipments", security(("bearer" = [])),
    request_body = NewShipment,
    responses(
        (status = 201, description = "Created (assigned if a courier was free)", body = ShipmentView),
        (status = 200, description = "It existed already", body = ShipmentView),
        (status = 403, description = "Needs deliveries:manage", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn create_shipment(
    State(state): State<AppState>,
    caller: AuthUser,
    JsonBody(request): JsonBody<NewShipment>,
) -> Result<impl IntoResponse, DeliveryError> {
    caller.require(Permission::DELIVERIES_MANAGE)?;
    let mut errors = Vec::new();
    request.pickup.check("pickup", &mut errors);
    request.dropoff.check("dropoff", &mut errors);
    if !errors.is_empty() {
        return Err(DeliveryError::Validation(errors));
    }
    let mut tx = state.db.begin().await?;
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO shipments (id, order_id, customer_id, status, pickup_lat, pickup_lon, dropoff_lat, dropoff_lon)
         VALUES ($1, $2, $3, 'CREATED', $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(request.order_id)
    .bind(request.customer_id)
    .bind(request.pickup.lat)
    .bind(request.pickup.lon)
    .bind(request.dropoff.lat)
    .bind(request.dropoff.lon)
    .fetch_optional(&mut *tx)
    .await?;
    let status = if let Some(id) = inserted {
        assign_nearest(&mut tx, id, request.pickup).await?;
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let shipment = by_order(&mut tx, request.order_id)
        .await?
        .ok_or(DeliveryError::NotFound("shipment"))?;
    tx.commit().await?;
    Ok((status, Json(shipment)))
}

/// Gives the shipment to the free courier nearest its pickup point, if any. `SKIP LOCKED`
/// lets concurrent assignments take different couriers instead of waiting for each other.
async fn assign_nearest(
    tx: &mut Transaction<'_, Postgres>,
    shipment: Uuid,
    pickup: Point,
) -> sqlx::Result<Option<Uuid>> {
    let courier: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM couriers WHERE available AND NOT busy AND lat IS NOT NULL
         ORDER BY power(lat - $1, 2) + power((lon - $2) * cos(radians($1)), 2)
         LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind(pickup.lat)
    .bind(pickup.lon)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(courier) = courier {
        sqlx::query("UPDATE couriers SET busy = true WHERE user_id = $1")
            .bind(courier)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE shipments SET courier_id = $2, status = 'ASSIGNED', updated_at = now() WHERE id = $1")
            .bind(shipment)
            .bind(courier)
            .execute(&mut **tx)
            .await?;
    }
    Ok(courier)
}

async fn by_order(
    tx: &mut Transaction<'_, Postgres>,
    order: Uuid,
) -> sqlx::Result<Option<ShipmentView>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM shipments WHERE order_id = $1 FOR UPDATE"
    ))
    .bind(order)
    .fetch_optional(&mut **tx)
    .await
}

/// An order's shipment: for its customer, its courier and `deliveries:manage`; others 404.
#[utoipa::path(get, path = "/delivery/{order_id}", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The shipment", body = ShipmentView),
        (status = 404, description = "No shipment the caller may see", body = Problem, content_type = "application/problem+json")))]
pub async fn get_shipment(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<ShipmentView>, DeliveryError> {
    let mut tx = state.db.begin().await?;
    let shipment = by_order(&mut tx, order)
        .await?
        .ok_or(DeliveryError::NotFound("shipment"))?;
    let me = caller.0.sub;
    if caller.0.has(Permission::DELIVERIES_MANAGE)
        || shipment.customer_id == me
        || shipment.courier_id == Some(me)
    {
        Ok(Json(shipment))
    } else {
        Err(DeliveryError::NotFound("shipment"))
    }
}

/// Moves the shipment from `from` to `to`, by its courier (or, to cancel, by
/// `deliveries:manage`); frees the courier when it ends.
async fn transition(
    state: &AppState,
    caller: &AuthUser,
    order: Uuid,
    from: &[&str],
    to: &str,
) -> Result<Json<ShipmentView>, DeliveryError> {
    let mut tx = state.db.begin().await?;
    let shipment = by_order(&mut tx, order)
        .await?
        .ok_or(DeliveryError::NotFound("shipment"))?;
    let me = caller.0.sub;
    let manager = caller.0.has(Permission::DELIVERIES_MANAGE);
    let courier =
        shipment.courier_id == Some(me) && caller.0.has(Permission::DELIVERIES_UPDATE_ASSIGNED);
    let allowed = if to == "CANCELLED" { manager } else { courier };
    if !allowed {
        let visible = manager || shipment.customer_id == me || shipment.courier_id == Some(me);
        return Err(if visible {
            DeliveryError::not_assigned()
        } else {
            DeliveryError::NotFound("shipment")
        });
    }
    if !from.contains(&shipment.status.as_str()) {
        return Err(DeliveryError::Conflict(format!(
            "A shipment that is {} cannot become {to}.",
            shipment.status
        )));
    }
    let updated: ShipmentView = sqlx::query_as(&format!(
        "UPDATE shipments SET status = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(shipment.id)
    .bind(to)
    .fetch_one(&mut *tx)
    .await?;
    if matches!(to, "DELIVERED" | "CANCELLED")
        && let Some(courier) = shipment.courier_id
    {
        sqlx::query("UPDATE couriers SET busy = false WHERE user_id = $1")
            .bind(courier)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Json(updated))
}

/// The assigned courier has the food.
#[utoipa::path(post, path = "/delivery/{order_id}/picked-up", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Picked up", body = ShipmentView),
        (status = 403, description = "Not its courier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not assigned", body = Problem, content_type = "application/problem+json")))]
pub async fn pick_up(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<ShipmentView>, DeliveryError> {
    transition(&state, &caller, order, &["ASSIGNED"], "PICKED_UP").await
}

/// The assigned courier has handed it over.
#[utoipa::path(post, path = "/delivery/{order_id}/delivered", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Delivered", body = ShipmentView),
        (status = 403, description = "Not its courier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not picked up", body = Problem, content_type = "application/problem+json")))]
pub async fn deliver(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<ShipmentView>, DeliveryError> {
    transition(&state, &caller, order, &["PICKED_UP"], "DELIVERED").await
}

/// Calls the shipment off (the saga's compensation); frees its courier.
#[utoipa::path(post, path = "/delivery/{order_id}/cancel", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Cancelled", body = ShipmentView),
        (status = 403, description = "Needs deliveries:manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already picked up or over", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_shipment(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<ShipmentView>, DeliveryError> {
    transition(
        &state,
        &caller,
        order,
        &["CREATED", "ASSIGNED"],
        "CANCELLED",
    )
    .await
}
