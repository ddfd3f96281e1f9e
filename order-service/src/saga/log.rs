//! Each saga's history: the steps it took with their attempts and outcomes, and what
//! operators did to it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::machine::{Outcome, Step};

/// One entry of a saga's log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub step: String,
    pub compensation: bool,
    pub attempts: i32,
    pub outcome: String,
    pub detail: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One thing an operator did to a saga.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionRow {
    pub action: String,
    pub actor: Uuid,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// Logs the start of `step`.
pub async fn open_step(tx: &mut PgConnection, order: Uuid, step: Step) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO saga_steps (order_id, seq, step, compensation, attempts, outcome)
         SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, 1, 'running' FROM saga_steps WHERE order_id = $1",
    )
    .bind(order)
    .bind(step.as_str())
    .bind(step.is_compensation())
    .execute(tx)
    .await
    .map(drop)
}

/// Logs another attempt at the running step, and why.
pub async fn retry_step(
    tx: &mut PgConnection,
    order: Uuid,
    attempts: u32,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE saga_steps SET attempts = $2, detail = $3
         WHERE order_id = $1 AND seq = (SELECT max(seq) FROM saga_steps WHERE order_id = $1)",
    )
    .bind(order)
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .bind(detail)
    .execute(tx)
    .await
    .map(drop)
}

/// Logs how the running step ended.
pub async fn close_step(tx: &mut PgConnection, order: Uuid, outcome: &Outcome) -> sqlx::Result<()> {
    let (name, detail) = outcome.logged();
    sqlx::query(
        "UPDATE saga_steps SET outcome = $2, detail = COALESCE($3, detail), finished_at = now()
         WHERE order_id = $1 AND seq = (SELECT max(seq) FROM saga_steps WHERE order_id = $1)",
    )
    .bind(order)
    .bind(name)
    .bind(detail)
    .execute(tx)
    .await
    .map(drop)
}

/// Logs what operator `actor` did to the saga, and why.
pub async fn log_action(
    tx: &mut PgConnection,
    order: Uuid,
    action: &str,
    actor: Uuid,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO saga_actions (order_id, seq, action, actor, note)
         SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, $4 FROM saga_actions WHERE order_id = $1",
    )
    .bind(order)
    .bind(action)
    .bind(actor)
    .bind(note)
    .execute(tx)
    .await
    .map(drop)
}

/// What operators did to the saga, oldest first.
pub async fn actions(db: &PgPool, order: Uuid) -> sqlx::Result<Vec<ActionRow>> {
    sqlx::query_as(
        "SELECT action, actor, note, at FROM saga_actions WHERE order_id = $1 ORDER BY seq",
    )
    .bind(order)
    .fetch_all(db)
    .await
}

/// The saga's log, oldest first.
pub async fn log(db: &PgPool, order: Uuid) -> sqlx::Result<Vec<StepRow>> {
    sqlx::query_as(
        "SELECT step, compensation, attempts, outcome, detail, started_at, finished_at
         FROM saga_steps WHERE order_id = $1 ORDER BY seq",
    )
    .bind(order)
    .fetch_all(db)
    .await
}
