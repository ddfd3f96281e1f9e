//! Shipments: created once per order, given to the nearest free courier, released for pick-up
//! once the order is paid, moved along by that courier, called off by the saga's compensation.
//! Every change is made inside the caller's transaction with the domain event that announces it.

use chrono::{DateTime, Utc};
use messaging::{
    Message,
    contracts::{DeliveryEvent, event},
    enqueue,
};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::geo::Point;

/// Where a shipment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShipmentStatus {
    /// No courier was free yet.
    Created,
    Assigned,
    PickedUp,
    Delivered,
    Cancelled,
}

impl ShipmentStatus {
    /// As stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Assigned => "ASSIGNED",
            Self::PickedUp => "PICKED_UP",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Whether the shipment is over, its courier free again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }
}

impl TryFrom<String> for ShipmentStatus {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        [
            Self::Created,
            Self::Assigned,
            Self::PickedUp,
            Self::Delivered,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == stored)
        .ok_or_else(|| format!("unknown shipment status {stored}"))
    }
}

impl std::fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shipment as its customer, its courier and operators see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ShipmentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub courier_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub status: ShipmentStatus,
    /// When its courier was allowed to take the food; null while the saga that made it has
    /// not yet confirmed the order's payment.
    pub released_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, order_id, customer_id, courier_id, status, released_at, created_at, updated_at";

/// What a new shipment needs.
#[derive(Debug, Clone, Copy)]
pub struct NewShipment {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub pickup: Point,
    pub dropoff: Option<Point>,
    /// Whether its courier may take the food at once (else it waits for `release`).
    pub released: bool,
}

/// The order's shipment, locked until the transaction ends.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn by_order(tx: &mut PgConnection, order: Uuid) -> sqlx::Result<Option<ShipmentView>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM shipments WHERE order_id = $1 FOR UPDATE"
    ))
    .bind(order)
    .fetch_optional(tx)
    .await
}

/// Inserts the shipment in `status` unless the order has one; returns its id if inserted.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn insert(
    tx: &mut PgConnection,
    shipment: &NewShipment,
    status: ShipmentStatus,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "INSERT INTO shipments (id, order_id, customer_id, status, pickup_lat, pickup_lon, dropoff_lat, dropoff_lon, released_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN now() END)
         ON CONFLICT (order_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(shipment.order_id)
    .bind(shipment.customer_id)
    .bind(status.as_str())
    .bind(shipment.pickup.lat)
    .bind(shipment.pickup.lon)
    .bind(shipment.dropoff.map(|point| point.lat))
    .bind(shipment.dropoff.map(|point| point.lon))
    .bind(shipment.released)
    .fetch_optional(tx)
    .await
}

/// The free courier nearest `pickup`, taken (marked busy) until the transaction ends: found
/// through the index of free couriers' positions, whatever their number. `SKIP LOCKED` lets
/// concurrent assignments take different couriers instead of waiting for each other.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn take_nearest_courier(
    tx: &mut PgConnection,
    pickup: Point,
) -> sqlx::Result<Option<Uuid>> {
    let courier: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM couriers WHERE available AND NOT busy AND position IS NOT NULL
         ORDER BY position <-> point($2 * cos(radians($1)), $1)
         LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind(pickup.lat)
    .bind(pickup.lon)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(courier) = courier {
        sqlx::query("UPDATE couriers SET busy = true WHERE user_id = $1")
            .bind(courier)
            .execute(tx)
            .await?;
    }
    Ok(courier)
}

/// Gives shipment `id` to `courier` and announces it.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn assign(tx: &mut PgConnection, id: Uuid, courier: Uuid) -> sqlx::Result<ShipmentView> {
    let shipment: ShipmentView = sqlx::query_as(&format!(
        "UPDATE shipments SET courier_id = $2, status = 'ASSIGNED', updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(courier)
    .fetch_one(&mut *tx)
    .await?;
    announce(tx, event::DELIVERY_ASSIGNED, &shipment).await?;
    Ok(shipment)
}

/// Lets the courier of the order's shipment take the food, if it is held and not called
/// off; whether it did. One statement, so it needs no lock: it changes nothing else a
/// command about the order decides on. Not announced: the order's confirmation, which
/// releases it, is the news.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn release(tx: &mut PgConnection, order: Uuid) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE shipments SET released_at = now(), updated_at = now()
         WHERE order_id = $1 AND released_at IS NULL AND status <> 'CANCELLED'",
    )
    .bind(order)
    .execute(tx)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// Moves the shipment to `to`, frees its courier when it ends, and announces it.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn advance(
    tx: &mut PgConnection,
    shipment: &ShipmentView,
    to: ShipmentStatus,
) -> sqlx::Result<ShipmentView> {
    let updated: ShipmentView = sqlx::query_as(&format!(
        "UPDATE shipments SET status = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(shipment.id)
    .bind(to.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if to.is_final()
        && let Some(courier) = shipment.courier_id
    {
        sqlx::query("UPDATE couriers SET busy = false WHERE user_id = $1")
            .bind(courier)
            .execute(&mut *tx)
            .await?;
    }
    let kind = match to {
        ShipmentStatus::PickedUp => event::DELIVERY_PICKED_UP,
        ShipmentStatus::Delivered => event::DELIVERY_DELIVERED,
        _ => event::DELIVERY_CANCELLED,
    };
    announce(tx, kind, &updated).await?;
    Ok(updated)
}

async fn announce(
    tx: &mut PgConnection,
    kind: &'static str,
    shipment: &ShipmentView,
) -> sqlx::Result<()> {
    let event = DeliveryEvent {
        order_id: shipment.order_id,
        shipment_id: shipment.id,
        customer_id: shipment.customer_id,
        courier_id: shipment.courier_id,
    };
    enqueue(tx, &Message::event(kind, shipment.order_id, event))
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::ShipmentStatus;

    #[test]
    fn every_status_reads_back_as_stored_and_an_unknown_one_is_refused() {
        for status in [
            ShipmentStatus::Created,
            ShipmentStatus::Assigned,
            ShipmentStatus::PickedUp,
            ShipmentStatus::Delivered,
            ShipmentStatus::Cancelled,
        ] {
            assert_eq!(
                ShipmentStatus::try_from(status.as_str().to_owned()),
                Ok(status)
            );
            assert_eq!(
                serde_json::to_value(status).expect("serialises"),
                status.as_str()
            );
        }
        assert!(ShipmentStatus::try_from("LOST".to_owned()).is_err());
    }
}
