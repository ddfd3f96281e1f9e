//! Read models, updated from each event as it is appended, and rebuildable from zero.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::{events::Event, store};

/// Applies one event to every read model.
pub async fn project(
    tx: &mut PgConnection,
    delivery: Uuid,
    version: i32,
    event: &Event,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let status_change = match event {
        Event::Created { customer_id } => {
            sqlx::query(
                "INSERT INTO delivery_status (delivery_id, customer_id, status, version, updated_at) VALUES ($1, $2, 'created', $3, $4)",
            )
            .bind(delivery)
            .bind(customer_id)
            .bind(version)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            None
        }
        Event::CourierAssigned { courier_id } => {
            sqlx::query("DELETE FROM courier_active_deliveries WHERE delivery_id = $1")
                .bind(delivery)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO courier_active_deliveries (courier_id, delivery_id, since) VALUES ($1, $2, $3)")
                .bind(courier_id)
                .bind(delivery)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE delivery_status SET courier_id = $2 WHERE delivery_id = $1")
                .bind(delivery)
                .bind(courier_id)
                .execute(&mut *tx)
                .await?;
            Some("assigned")
        }
        Event::PickedUp => Some("picked_up"),
        Event::LocationUpdated {
            lat,
            lon,
            recorded_at,
        } => {
            sqlx::query("UPDATE delivery_status SET lat = $2, lon = $3, last_location_at = $4 WHERE delivery_id = $1")
                .bind(delivery)
                .bind(lat)
                .bind(lon)
                .bind(recorded_at)
                .execute(&mut *tx)
                .await?;
            None
        }
        Event::Delivered | Event::Cancelled => {
            sqlx::query("DELETE FROM courier_active_deliveries WHERE delivery_id = $1")
                .bind(delivery)
                .execute(&mut *tx)
                .await?;
            Some(if *event == Event::Delivered {
                "delivered"
            } else {
                "cancelled"
            })
        }
    };
    sqlx::query(
        "UPDATE delivery_status SET status = COALESCE($2, status), version = $3, updated_at = $4 WHERE delivery_id = $1",
    )
    .bind(delivery)
    .bind(status_change)
    .bind(version)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO delivery_timeline (delivery_id, version, event_type, occurred_at, details) VALUES ($1, $2, $3, $4, $5)")
        .bind(delivery)
        .bind(version)
        .bind(event.kind())
        .bind(at)
        .bind(Json(event))
        .execute(&mut *tx)
        .await
        .map(drop)
}

/// Empties every read model and replays every event into it; returns how many were replayed.
pub async fn rebuild(db: &PgPool) -> sqlx::Result<usize> {
    let events = store::all_events(db).await?;
    let mut tx = db.begin().await?;
    sqlx::query("TRUNCATE delivery_status, delivery_timeline, courier_active_deliveries")
        .execute(&mut *tx)
        .await?;
    for (stream, version, Json(event), at) in &events {
        project(&mut tx, *stream, *version, event, *at).await?;
    }
    tx.commit().await?;
    Ok(events.len())
}
