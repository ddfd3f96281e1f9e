use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde::Deserialize;
use shared::{
    JsonBody, Problem,
    auth::{AuthUser, Permission},
    postgres::lock_aggregate,
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::DeliveryError,
    geo::Point,
    shipments::{self, ShipmentStatus, ShipmentView},
    state::AppState,
};

/// The body of `POST /delivery/shipments` (the saga's shipping step).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShipment {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub pickup: Point,
    pub dropoff: Point,
}

/// Creates the order's shipment, released for pick-up at once, and assigns the nearest free
/// courier. Creating it again for the same order returns the same shipment.
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
    let new = shipments::NewShipment {
        order_id: request.order_id,
        customer_id: request.customer_id,
        pickup: request.pickup,
        dropoff: Some(request.dropoff),
        // Made by hand by support, who answer for the payment.
        released: true,
    };
    let mut tx = state.db.begin().await?;
    lock_aggregate(&mut tx, request.order_id).await?;
    let status = match shipments::insert(&mut tx, &new, ShipmentStatus::Created).await? {
        Some(id) => {
            if let Some(courier) = shipments::take_nearest_courier(&mut tx, new.pickup).await? {
                shipments::assign(&mut tx, id, courier).await?;
            }
            StatusCode::CREATED
        }
        None => StatusCode::OK,
    };
    let shipment = shipments::by_order(&mut tx, request.order_id)
        .await?
        .ok_or(DeliveryError::NotFound("shipment"))?;
    tx.commit().await?;
    state.outbox.committed();
    Ok((status, Json(shipment)))
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
    let shipment = shipments::by_order(&mut tx, order)
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
/// `deliveries:manage`); frees the courier when it ends. A held shipment is not picked up.
async fn transition(
    state: &AppState,
    caller: &AuthUser,
    order: Uuid,
    from: &[ShipmentStatus],
    to: ShipmentStatus,
) -> Result<Json<ShipmentView>, DeliveryError> {
    let mut tx = state.db.begin().await?;
    lock_aggregate(&mut tx, order).await?;
    let shipment = shipments::by_order(&mut tx, order)
        .await?
        .ok_or(DeliveryError::NotFound("shipment"))?;
    let me = caller.0.sub;
    let manager = caller.0.has(Permission::DELIVERIES_MANAGE);
    let courier =
        shipment.courier_id == Some(me) && caller.0.has(Permission::DELIVERIES_UPDATE_ASSIGNED);
    let allowed = if to == ShipmentStatus::Cancelled {
        manager
    } else {
        courier
    };
    if !allowed {
        let visible = manager || shipment.customer_id == me || shipment.courier_id == Some(me);
        return Err(if visible {
            DeliveryError::not_assigned()
        } else {
            DeliveryError::NotFound("shipment")
        });
    }
    if !from.contains(&shipment.status) {
        return Err(DeliveryError::Conflict(format!(
            "A shipment that is {} cannot become {to}.",
            shipment.status
        )));
    }
    if to == ShipmentStatus::PickedUp && shipment.released_at.is_none() {
        return Err(DeliveryError::Held);
    }
    let updated = shipments::advance(&mut tx, &shipment, to).await?;
    tx.commit().await?;
    state.outbox.committed();
    Ok(Json(updated))
}

/// The assigned courier has the food; only once the shipment is released, which a shipment of
/// the order saga is when the order's payment is confirmed (`order.confirmed`).
#[utoipa::path(post, path = "/delivery/{order_id}/picked-up", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Picked up", body = ShipmentView),
        (status = 404, description = "No shipment of this order that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not its courier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not assigned (`/problems/conflict`), or held until the order's payment is confirmed (`/problems/shipment-held`)", body = Problem, content_type = "application/problem+json")))]
pub async fn pick_up(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<ShipmentView>, DeliveryError> {
    transition(
        &state,
        &caller,
        order,
        &[ShipmentStatus::Assigned],
        ShipmentStatus::PickedUp,
    )
    .await
}

/// The assigned courier has handed it over.
#[utoipa::path(post, path = "/delivery/{order_id}/delivered", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Delivered", body = ShipmentView),
        (status = 404, description = "No shipment of this order that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not its courier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not picked up", body = Problem, content_type = "application/problem+json")))]
pub async fn deliver(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order): Path<Uuid>,
) -> Result<Json<ShipmentView>, DeliveryError> {
    transition(
        &state,
        &caller,
        order,
        &[ShipmentStatus::PickedUp],
        ShipmentStatus::Delivered,
    )
    .await
}

/// Calls the shipment off (the saga's compensation); frees its courier.
#[utoipa::path(post, path = "/delivery/{order_id}/cancel", tag = "shipments", security(("bearer" = [])),
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Cancelled", body = ShipmentView),
        (status = 404, description = "No shipment of this order that the caller may see", body = Problem, content_type = "application/problem+json"),
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
        &[ShipmentStatus::Created, ShipmentStatus::Assigned],
        ShipmentStatus::Cancelled,
    )
    .await
}
