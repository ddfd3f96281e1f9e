//! The sagas and their step log on one shard.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use super::{
    log::Entry,
    machine::{Ending, Saga, SagaState, Step, Unresolved},
};
use crate::store::{self as orders, OrderRow};

/// A saga as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct SagaRow {
    pub order_id: Uuid,
    pub state: String,
    pub step: String,
    pub attempt: i32,
    pub deadline: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub pending: Vec<String>,
    pub ending: Option<String>,
    pub reason: Option<String>,
    pub unresolved: Json<Vec<Unresolved>>,
    /// The status a confirmed order goes back to when its cancellation is refused.
    pub resume_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "order_id, state, step, attempt, deadline, cancel_requested, pending, ending, reason, \
                       unresolved, resume_status, created_at, updated_at";

impl SagaRow {
    /// The state machine's view of it; `None` if a name in it is unknown.
    pub fn saga(&self) -> Option<Saga> {
        Some(Saga {
            state: SagaState::parse(&self.state)?,
            step: Step::parse(&self.step)?,
            attempt: u32::try_from(self.attempt).ok()?,
            cancel_requested: self.cancel_requested,
            pending: self
                .pending
                .iter()
                .map(|name| Step::parse(name))
                .collect::<Option<_>>()?,
            ending: self.ending.as_deref().and_then(Ending::parse),
            reason: self.reason.clone(),
            unresolved: self.unresolved.0.clone(),
        })
    }
}

/// Writes `saga` for `order`, new or changed, with the current attempt's deadline, and what
/// its step log gains: one statement for all of it (each of the log's changes applies only
/// when its parameters are given).
pub async fn save(
    tx: &mut PgConnection,
    order: Uuid,
    saga: &Saga,
    deadline: Option<DateTime<Utc>>,
    entry: &Entry<'_>,
) -> sqlx::Result<()> {
    let pending: Vec<&str> = saga.pending.iter().map(|step| step.as_str()).collect();
    let (closed, detail) = entry.closed.map_or((None, None), |outcome| {
        let (name, detail) = outcome.logged();
        (Some(name), detail)
    });
    let (attempts, why) = entry
        .retried
        .as_ref()
        .map_or((None, None), |(attempt, why)| {
            (
                Some(i32::try_from(*attempt).unwrap_or(i32::MAX)),
                Some(why.as_str()),
            )
        });
    sqlx::query(
        "WITH last AS (SELECT COALESCE(max(seq), 0) AS seq FROM saga_steps WHERE order_id = $1),
         closed AS (
             UPDATE saga_steps SET outcome = $11, detail = COALESCE($12, detail), finished_at = now()
             WHERE $11::text IS NOT NULL AND order_id = $1 AND seq = (SELECT seq FROM last)),
         retried AS (
             UPDATE saga_steps SET attempts = $13, detail = $14
             WHERE $13::int IS NOT NULL AND order_id = $1 AND seq = (SELECT seq FROM last)),
         opened AS (
             INSERT INTO saga_steps (order_id, seq, step, compensation, attempts, outcome)
             SELECT $1, seq + 1, $15, $16, 1, 'running' FROM last WHERE $15::text IS NOT NULL)
         INSERT INTO sagas (order_id, state, step, attempt, deadline, cancel_requested, pending, ending, reason, unresolved)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (order_id) DO UPDATE SET state = $2, step = $3, attempt = $4, deadline = $5,
             cancel_requested = $6, pending = $7, ending = $8, reason = $9, unresolved = $10, updated_at = now()",
    )
    .bind(order)
    .bind(saga.state.as_str())
    .bind(saga.step.as_str())
    .bind(i32::try_from(saga.attempt).unwrap_or(i32::MAX))
    .bind(deadline)
    .bind(saga.cancel_requested)
    .bind(&pending)
    .bind(saga.ending.map(Ending::status))
    .bind(&saga.reason)
    .bind(Json(&saga.unresolved))
    .bind(closed)
    .bind(detail)
    .bind(attempts)
    .bind(why)
    .bind(entry.opened.map(Step::as_str))
    .bind(entry.opened.map(Step::is_compensation))
    .execute(tx)
    .await
    .map(drop)
}

/// Remembers the status a confirmed order goes back to if its cancellation is refused.
pub async fn set_resume_status(
    tx: &mut PgConnection,
    order: Uuid,
    status: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE sagas SET resume_status = $2 WHERE order_id = $1")
        .bind(order)
        .bind(status)
        .execute(tx)
        .await
        .map(drop)
}

/// The order's saga, locked until the transaction ends.
pub async fn lock(tx: &mut PgConnection, order: Uuid) -> sqlx::Result<Option<SagaRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sagas WHERE order_id = $1 FOR UPDATE"
    ))
    .bind(order)
    .fetch_optional(tx)
    .await
}

/// The order's saga.
pub async fn find(db: &PgPool, order: Uuid) -> sqlx::Result<Option<SagaRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM sagas WHERE order_id = $1"))
        .bind(order)
        .fetch_optional(db)
        .await
}

/// Up to `limit` sagas whose current attempt is past its deadline, locked; those another
/// transaction holds are skipped, so that several instances share the work.
pub async fn due(tx: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<SagaRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sagas WHERE deadline <= now() ORDER BY deadline LIMIT $1 FOR UPDATE SKIP LOCKED"
    ))
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Newest first, older than `before`; in `state` if given.
pub async fn page(
    db: &PgPool,
    state: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<SagaRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sagas WHERE ($1::text IS NULL OR state = $1) AND ($2::uuid IS NULL OR order_id < $2)
         ORDER BY order_id DESC LIMIT $3"
    ))
    .bind(state)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many sagas are in each state.
pub async fn counts(db: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, count(*) FROM sagas GROUP BY state")
        .fetch_all(db)
        .await
}

/// The `limit` sagas that ended last, newest first.
pub async fn recent_ends(db: &PgPool, limit: i64) -> sqlx::Result<Vec<SagaRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sagas WHERE state IN ('completed', 'compensated', 'failed', 'resolved')
         ORDER BY updated_at DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The order and its saga, both locked until the transaction ends, in one statement (the
/// saga read as JSON beside the order's columns); `None` if either is missing.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn lock_with_saga(
    tx: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(OrderRow, SagaRow)>> {
    static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let columns: Vec<String> = orders::COLUMNS
            .split(',')
            .map(|c| format!("o.{}", c.trim()))
            .collect();
        format!(
            // Rows are locked in the order of the FROM list: the saga first, as everyone
            // else who locks both does, so that none of them waits on the other in a circle.
            "SELECT {}, to_jsonb(s) AS saga FROM sagas s JOIN orders o ON o.id = s.order_id
             WHERE s.order_id = $1 FOR UPDATE",
            columns.join(", ")
        )
    });
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        order: OrderRow,
        saga: Json<SagaRow>,
    }
    let locked: Option<Locked> = sqlx::query_as(&QUERY).bind(id).fetch_optional(tx).await?;
    Ok(locked.map(|locked| (locked.order, locked.saga.0)))
}
