//! The query side's read models, as the projections keep them: a delivery's status, its
//! timeline, and the deliveries each courier has under way.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a delivery stands, from the status read model.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatusView {
    pub delivery_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub courier_id: Option<Uuid>,
    pub status: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub last_location_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// One entry of a delivery's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct TimelineEntry {
    pub version: i32,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A delivery a courier has under way.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ActiveDelivery {
    pub delivery_id: Uuid,
    pub since: DateTime<Utc>,
}

/// The status of `delivery`, if it is tracked.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn status_of(db: &PgPool, delivery: Uuid) -> sqlx::Result<Option<StatusView>> {
    sqlx::query_as(
        "SELECT delivery_id, customer_id, courier_id, status, lat, lon, last_location_at, version, updated_at
         FROM delivery_status WHERE delivery_id = $1",
    )
    .bind(delivery)
    .fetch_optional(db)
    .await
}

/// Up to `limit` timeline entries of `delivery` after version `after`, oldest first.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn timeline(
    db: &PgPool,
    delivery: Uuid,
    after: i32,
    limit: i64,
) -> sqlx::Result<Vec<TimelineEntry>> {
    sqlx::query_as(
        "SELECT version, event_type, occurred_at, details FROM delivery_timeline
         WHERE delivery_id = $1 AND version > $2 ORDER BY version LIMIT $3",
    )
    .bind(delivery)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The deliveries `courier` has under way, oldest first.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn active_deliveries(db: &PgPool, courier: Uuid) -> sqlx::Result<Vec<ActiveDelivery>> {
    // A courier carries a handful at once; the bound only guards against a runaway list.
    sqlx::query_as(
        "SELECT delivery_id, since FROM courier_active_deliveries WHERE courier_id = $1 ORDER BY since LIMIT 100",
    )
    .bind(courier)
    .fetch_all(db)
    .await
}
