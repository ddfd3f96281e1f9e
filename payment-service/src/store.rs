//! Payments, their ledger and the idempotency keys, always changed inside one transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::status::PaymentStatus;

/// A payment as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub currency: String,
    pub payment_method: String,
    #[sqlx(try_from = "String")]
    pub status: PaymentStatus,
    pub authorized_amount: i64,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub decline_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One ledger line.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct LedgerEntry {
    pub operation: String,
    pub account: String,
    pub direction: String,
    pub amount: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// A response stored under an idempotency key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredResponse {
    pub operation: String,
    pub request_hash: Vec<u8>,
    pub status_code: i16,
    pub response: serde_json::Value,
}

pub type Tx<'a> = Transaction<'a, Postgres>;

const COLUMNS: &str = "id, order_id, customer_id, currency, payment_method, status, authorized_amount, \
                       captured_amount, refunded_amount, decline_reason, created_at, updated_at";

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn find_by_order(db: &PgPool, order: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1"
    ))
    .bind(order)
    .fetch_optional(db)
    .await
}

/// The order's payment, locked until the transaction ends.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn lock_by_order(tx: &mut PgConnection, order: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1 FOR UPDATE"
    ))
    .bind(order)
    .fetch_optional(&mut *tx)
    .await
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn insert(tx: &mut PgConnection, payment: &PaymentRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO payments (id, order_id, customer_id, currency, payment_method, status, authorized_amount, decline_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(payment.id)
    .bind(payment.order_id)
    .bind(payment.customer_id)
    .bind(&payment.currency)
    .bind(&payment.payment_method)
    .bind(payment.status.as_str())
    .bind(payment.authorized_amount)
    .bind(&payment.decline_reason)
    .execute(&mut *tx)
    .await
    .map(drop)
}

/// Writes the payment's new status and amounts; returns it as stored.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn update(
    tx: &mut PgConnection,
    id: Uuid,
    status: PaymentStatus,
    captured: i64,
    refunded: i64,
) -> sqlx::Result<PaymentRow> {
    sqlx::query_as(&format!(
        "UPDATE payments SET status = $2, captured_amount = $3, refunded_amount = $4, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status.as_str())
    .bind(captured)
    .bind(refunded)
    .fetch_one(&mut *tx)
    .await
}

/// Moves `amount` from `from` (debit) to `to` (credit): two lines, so the ledger balances.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn post(
    tx: &mut PgConnection,
    payment: &PaymentRow,
    operation: &str,
    from: &str,
    to: &str,
    amount: i64,
) -> sqlx::Result<()> {
    for (account, direction) in [(from, "debit"), (to, "credit")] {
        sqlx::query(
            "INSERT INTO ledger_entries (id, payment_id, operation, account, direction, amount, currency)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(payment.id)
        .bind(operation)
        .bind(account)
        .bind(direction)
        .bind(amount)
        .bind(&payment.currency)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn ledger_of(db: &PgPool, payment: Uuid) -> sqlx::Result<Vec<LedgerEntry>> {
    sqlx::query_as(
        "SELECT operation, account, direction, amount, currency, created_at FROM ledger_entries
         WHERE payment_id = $1 ORDER BY created_at, id",
    )
    .bind(payment)
    .fetch_all(db)
    .await
}

/// Serialises requests that share `key` until the transaction ends, then returns what was
/// stored under it, if anything.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn claim_key(tx: &mut PgConnection, key: &str) -> sqlx::Result<Option<StoredResponse>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    sqlx::query_as("SELECT operation, request_hash, status_code, response FROM idempotency_keys WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn remember(
    tx: &mut PgConnection,
    key: &str,
    stored: &StoredResponse,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO idempotency_keys (key, operation, request_hash, status_code, response) VALUES ($1, $2, $3, $4, $5)")
        .bind(key)
        .bind(&stored.operation)
        .bind(&stored.request_hash)
        .bind(stored.status_code)
        .bind(&stored.response)
        .execute(&mut *tx)
        .await
        .map(drop)
}
