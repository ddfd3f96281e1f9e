//! Couriers as stored: their profile, whether they take deliveries, and where they are.

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::geo::Point;

/// A courier as they see themselves.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct CourierView {
    pub user_id: Uuid,
    pub name: String,
    pub vehicle: String,
    pub available: bool,
    pub busy: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

const COLUMNS: &str = "user_id, name, vehicle, available, busy, lat, lon";

/// Registers `user` as a courier; a second registration is a unique violation.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn register(
    db: &PgPool,
    user: Uuid,
    name: &str,
    vehicle: &str,
) -> sqlx::Result<CourierView> {
    sqlx::query_as(&format!(
        "INSERT INTO couriers (user_id, name, vehicle) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(user)
    .bind(name)
    .bind(vehicle)
    .fetch_one(db)
    .await
}

/// Starts or stops `user` taking deliveries; `None` without a courier profile.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn set_availability(
    db: &PgPool,
    user: Uuid,
    available: bool,
) -> sqlx::Result<Option<CourierView>> {
    sqlx::query_as(&format!(
        "UPDATE couriers SET available = $2 WHERE user_id = $1 RETURNING {COLUMNS}"
    ))
    .bind(user)
    .bind(available)
    .fetch_optional(db)
    .await
}

/// Records where `user` is now; `None` without a courier profile.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn set_location(
    db: &PgPool,
    user: Uuid,
    point: &Point,
) -> sqlx::Result<Option<CourierView>> {
    sqlx::query_as(&format!(
        "UPDATE couriers SET lat = $2, lon = $3, located_at = now() WHERE user_id = $1 RETURNING {COLUMNS}"
    ))
    .bind(user)
    .bind(point.lat)
    .bind(point.lon)
    .fetch_optional(db)
    .await
}
