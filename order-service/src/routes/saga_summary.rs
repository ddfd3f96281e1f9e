//! `GET /orders/admin/sagas/summary`: how many sagas are in each state across the shards, and
//! the last ones to end, for the gateway's dashboard.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use futures::future::join_all;
use messaging::dead_letters;
use serde::Serialize;
use shared::{
    Problem,
    auth::{AuthUser, Permission},
};
use utoipa::ToSchema;

use super::saga_views::SagaView;
use crate::{
    error::OrderError,
    saga::{machine::SagaState, store},
    state::AppState,
};

/// Sagas that ended, listed.
const RECENT: i64 = 10;

/// Sagas by state, and the last to end.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaSummary {
    /// Every state (`running`, `compensating`, `completed`, `compensated`, `failed`) and
    /// how many sagas are in it.
    pub counts: BTreeMap<&'static str, i64>,
    /// The last sagas to end (completed, compensated, failed or resolved), newest first.
    pub recent: Vec<SagaView>,
    /// Messages given up on, waiting in each service's dead-letter queue (absent while the
    /// broker cannot be asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<BTreeMap<String, u32>>,
}

/// Sagas by state across every shard, the last ten to end, and the dead letters of every
/// service's queue (`orders:read:any`).
#[utoipa::path(get, path = "/orders/admin/sagas/summary", tag = "orders", security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts by state and the last to end", body = SagaSummary),
        (status = 403, description = "Needs orders:read:any", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A shard is down", body = Problem, content_type = "application/problem+json")))]
pub async fn get_saga_summary(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<SagaSummary>, OrderError> {
    caller.require(Permission::ORDERS_READ_ANY)?;
    let mut counts: BTreeMap<&'static str, i64> = SagaState::ALL
        .iter()
        .map(|state| (state.as_str(), 0))
        .collect();
    let mut recent = Vec::new();
    let shards = join_all(state.shards.0.iter().map(|shard| async move {
        let on_shard = OrderError::on_shard(&shard.name);
        let db = shard.database.pool();
        let counts = store::counts(db).await.map_err(&on_shard)?;
        let ends = store::recent_ends(db, RECENT).await.map_err(&on_shard)?;
        Ok::<_, OrderError>((counts, ends))
    }))
    .await;
    for shard in shards {
        let (shard_counts, ends) = shard?;
        for (name, count) in shard_counts {
            if let Some(state) = SagaState::parse(&name) {
                *counts.entry(state.as_str()).or_default() += count;
            }
        }
        recent.extend(ends);
    }
    recent.sort_by_key(|row| std::cmp::Reverse(row.updated_at));
    recent.truncate(usize::try_from(RECENT).unwrap_or(10));
    let dead_letters = dead_letters::counts(state.broker.connection(), state.broker.topology())
        .await
        .inspect_err(|err| tracing::debug!(error = %err, "dead letters not counted"))
        .ok();
    Ok(Json(SagaSummary {
        counts,
        recent: recent.iter().map(SagaView::of).collect(),
        dead_letters,
    }))
}
