//! The courier's facts about an order (picked up, handed over), which arrive as
//! delivery-service's events. They commute: a hand-over implies the pick-up, so each moves
//! the order to the furthest of where it is and what the fact says, in whatever order they
//! come. While a saga holds the order (it is `PENDING` or `CANCEL_PENDING`), a fact is kept
//! on the order's shard and applied once the saga lets go; one that can never apply (the
//! order was cancelled) is kept too and logged, never lost.

use messaging::{Envelope, Failure, contracts::DeliveryEvent};
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use crate::store::{self as orders, OrderRow};

/// Statuses under a saga's semantic lock.
pub const HELD: [&str; 2] = ["PENDING", "CANCEL_PENDING"];

/// How far the courier has taken an order in `status`; `None` if a courier's fact has no
/// place there (held, or over).
fn progress(status: &str) -> Option<u8> {
    match status {
        "CONFIRMED" | "ACCEPTED" | "PREPARING" | "READY" => Some(0),
        "PICKED_UP" => Some(1),
        "DELIVERED" => Some(2),
        _ => None,
    }
}

/// Takes the courier's fact `message` saying the order is now `to`.
pub async fn take(tx: &mut PgConnection, message: &Envelope, to: &str) -> Result<(), Failure> {
    let fact: DeliveryEvent = message.payload()?;
    let Some(order) = orders::lock(tx, fact.order_id).await? else {
        return Err(Failure::Reject(format!("no order {}", fact.order_id)));
    };
    if HELD.contains(&order.status.as_str()) || !apply(tx, &order, to, fact.courier_id).await? {
        if !HELD.contains(&order.status.as_str()) {
            tracing::error!(order = %order.id, status = %order.status, %to, "a courier's fact about an order that is over; kept for an operator");
        }
        park(tx, order.id, message).await?;
    }
    Ok(())
}

/// Applies what was kept for the order while it was held, oldest first; what still cannot
/// apply stays.
pub async fn apply_parked(tx: &mut PgConnection, order: Uuid) -> sqlx::Result<()> {
    let kept: Vec<(Uuid, String, Json<DeliveryEvent>)> = sqlx::query_as(
        "SELECT message_id, kind, payload FROM order_facts WHERE order_id = $1 ORDER BY occurred_at, message_id",
    )
    .bind(order)
    .fetch_all(&mut *tx)
    .await?;
    for (message, kind, fact) in kept {
        let Some(current) = orders::lock(tx, order).await? else {
            return Ok(());
        };
        if apply(tx, &current, &kind, fact.0.courier_id).await? {
            sqlx::query("DELETE FROM order_facts WHERE order_id = $1 AND message_id = $2")
                .bind(order)
                .bind(message)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// Moves `order` on to `to`, if that is further than where it is; `false` if a courier's
/// fact has no place in its status.
async fn apply(
    tx: &mut PgConnection,
    order: &OrderRow,
    to: &str,
    courier: Option<Uuid>,
) -> sqlx::Result<bool> {
    let (Some(now), Some(then)) = (progress(&order.status), progress(to)) else {
        return Ok(false);
    };
    if now >= then {
        return Ok(true);
    }
    if order.courier_id.is_none()
        && let Some(courier) = courier
    {
        orders::set_courier(tx, order.id, courier).await?;
    }
    orders::set_status(tx, order.id, &[order.status.as_str()], to).await?;
    tracing::info!(order = %order.id, from = %order.status, %to, "the courier moved the order on");
    Ok(true)
}

/// Keeps `message` for the order until it can apply.
async fn park(tx: &mut PgConnection, order: Uuid, message: &Envelope) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO order_facts (order_id, message_id, kind, payload, occurred_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(order)
    .bind(message.id)
    .bind(status_of(&message.kind))
    .bind(Json(&message.payload))
    .bind(message.occurred_at)
    .execute(tx)
    .await?;
    tracing::info!(%order, kind = %message.kind, "a courier's fact kept until the order can take it");
    Ok(())
}

/// The order status a courier's event leads to.
pub fn status_of(kind: &str) -> &'static str {
    match kind {
        messaging::contracts::event::DELIVERY_DELIVERED => "DELIVERED",
        _ => "PICKED_UP",
    }
}

/// The facts kept for the order, as `(kind, received_at)`: for operators.
pub async fn parked(
    db: &sqlx::PgPool,
    order: Uuid,
) -> sqlx::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    sqlx::query_as(
        "SELECT kind, received_at FROM order_facts WHERE order_id = $1 ORDER BY occurred_at, message_id",
    )
    .bind(order)
    .fetch_all(db)
    .await
}
