//! SQL on one shard.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::domain::{input::DeliveryAddress, lines::OrderLine};

/// An order as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub restaurant_id: String,
    pub restaurant_owner_id: Uuid,
    pub courier_id: Option<Uuid>,
    pub status: String,
    pub items: Json<Vec<OrderLine>>,
    pub total_amount: i64,
    pub currency: String,
    pub delivery_address: Json<DeliveryAddress>,
    pub payment_method: String,
    pub pickup_lat: Option<f64>,
    pub pickup_lon: Option<f64>,
    pub request_hash: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str = "id, customer_id, restaurant_id, restaurant_owner_id, courier_id, status, items, total_amount, \
                       currency, delivery_address, payment_method, pickup_lat, pickup_lon, request_hash, created_at, updated_at";

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn insert(
    tx: &mut PgConnection,
    order: &OrderRow,
    idempotency_key: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO orders (id, customer_id, restaurant_id, restaurant_owner_id, status, items, total_amount, currency,
                             delivery_address, payment_method, idempotency_key, request_hash, pickup_lat, pickup_lon)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(order.id)
    .bind(order.customer_id)
    .bind(&order.restaurant_id)
    .bind(order.restaurant_owner_id)
    .bind(&order.status)
    .bind(&order.items)
    .bind(order.total_amount)
    .bind(&order.currency)
    .bind(&order.delivery_address)
    .bind(&order.payment_method)
    .bind(idempotency_key)
    .bind(&order.request_hash)
    .bind(order.pickup_lat)
    .bind(order.pickup_lon)
    .execute(tx)
    .await
    .map(drop)
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn find(db: &PgPool, id: Uuid) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn find_by_key(db: &PgPool, customer: Uuid, key: &str) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE customer_id = $1 AND idempotency_key = $2"
    ))
    .bind(customer)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// Newest first, older than `before`; of `customer` if given, else all.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn page(
    db: &PgPool,
    customer: Option<Uuid>,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<OrderRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders
         WHERE ($1::uuid IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(customer)
    .bind(status)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The order, locked until the transaction ends.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Moves the order to `to` from any status in `from`; `None` if it was in none of them.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn set_status(
    tx: &mut PgConnection,
    id: Uuid,
    from: &[&str],
    to: &str,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $3, updated_at = now() WHERE id = $1 AND status = ANY($2) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(from)
    .bind(to)
    .fetch_optional(tx)
    .await
}

/// The order's status as it stands.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn status(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// Records the order's courier.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn set_courier(tx: &mut PgConnection, id: Uuid, courier: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE orders SET courier_id = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(courier)
        .execute(tx)
        .await
        .map(drop)
}

/// Moves the order from `from` to `to`; `None` if it was not in `from` any more.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn transition(
    db: &PgPool,
    id: Uuid,
    from: &str,
    to: &str,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $3, updated_at = now() WHERE id = $1 AND status = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(from)
    .bind(to)
    .fetch_optional(db)
    .await
}
