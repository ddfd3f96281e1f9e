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

/// What a transition writes in the saga's step log: written with the saga itself, in one
/// statement (see [`super::store::save`]).
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    /// How the running step ended.
    pub closed: Option<&'a Outcome>,
    /// Another attempt at the running step (its number), and why.
    pub retried: Option<(u32, String)>,
    /// The step that starts.
    pub opened: Option<Step>,
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
