// utoipa's expansion of `params(SagaQuery)` qualifies a path this module imports.
#![allow(unused_qualifications)]

//! The saga's history, for the order's customer and for operators.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use shared::{
    FieldError, Problem, QueryParams,
    auth::{AuthUser, Permission},
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::read::load;
use crate::{
    error::OrderError,
    saga::{
        machine::SagaState,
        store::{self, SagaRow, StepRow},
    },
    state::AppState,
};

/// An order's saga: where it stands and every step it took.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaView {
    pub order_id: Uuid,
    /// `running`, `compensating`, `completed`, `compensated` or `failed`.
    pub state: String,
    /// The step under way, or the last one.
    pub step: String,
    /// The current step's attempt.
    pub attempt: i32,
    /// When the current attempt counts as unanswered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    /// Compensations still to run after the current one.
    pub pending: Vec<String>,
    /// The order's status once the saga is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
    /// Why it compensates, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every step, oldest first (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

/// One step the saga took.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub step: String,
    /// Whether it undoes an earlier step.
    pub compensation: bool,
    pub attempts: i32,
    /// `running`, `succeeded`, `failed` or `timed_out`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// One page of sagas, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaPage {
    pub items: Vec<SagaView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Uuid>,
}

/// Filters and paging of `GET /orders/admin/sagas`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SagaQuery {
    /// `running`, `compensating`, `failed`, `completed` or `compensated`.
    pub state: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

impl SagaView {
    pub(super) fn of(row: &SagaRow, steps: Option<Vec<StepRow>>) -> Self {
        Self {
            order_id: row.order_id,
            state: row.state.clone(),
            step: row.step.clone(),
            attempt: row.attempt,
            deadline: row.deadline,
            cancel_requested: row.cancel_requested,
            pending: row.pending.clone(),
            ending: row.ending.clone(),
            reason: row.reason.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            steps: steps.map(|steps| steps.into_iter().map(StepView::from).collect()),
        }
    }
}

impl From<StepRow> for StepView {
    fn from(row: StepRow) -> Self {
        Self {
            step: row.step,
            compensation: row.compensation,
            attempts: row.attempts,
            outcome: row.outcome,
            detail: row.detail,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

/// The order's saga and its log: for whoever may see the order.
#[utoipa::path(get, path = "/orders/{id}/saga", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The saga", body = SagaView),
        (status = 404, description = "No such order that the caller may see, or no saga", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Its shard is down", body = Problem, content_type = "application/problem+json")))]
pub async fn get_saga(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SagaView>, OrderError> {
    let (order, shard_name) = load(&state, &caller, id).await?;
    let shard = state
        .shards
        .for_order(order.id)
        .ok_or(OrderError::NotFound)?;
    let on_shard = OrderError::on_shard(&shard_name);
    let db = shard.database.pool();
    let row = store::find(db, id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let steps = store::log(db, id).await.map_err(&on_shard)?;
    Ok(Json(SagaView::of(&row, Some(steps))))
}

/// Sagas across every shard, newest first (`orders:read:any`): the running, the
/// compensating, and the failed ones that need an operator.
#[utoipa::path(get, path = "/orders/admin/sagas", tag = "orders", security(("bearer" = [])), params(SagaQuery),
    responses(
        (status = 200, description = "One page", body = SagaPage),
        (status = 403, description = "Needs orders:read:any", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A shard is down", body = Problem, content_type = "application/problem+json")))]
pub async fn list_sagas(
    State(state): State<AppState>,
    caller: AuthUser,
    QueryParams(query): QueryParams<SagaQuery>,
) -> Result<Json<SagaPage>, OrderError> {
    caller.require(Permission::ORDERS_READ_ANY)?;
    let limit = query.limit.unwrap_or(20);
    let mut errors = Vec::new();
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "must be 1 to 100"));
    }
    let wanted = query.state.as_deref().map(SagaState::parse);
    if wanted == Some(None) {
        errors.push(FieldError::new(
            "state",
            "must be running, compensating, failed, completed or compensated",
        ));
    }
    if !errors.is_empty() {
        return Err(OrderError::Validation(errors));
    }
    let wanted = wanted.flatten().map(SagaState::as_str);
    // Each shard's newest `limit + 1` below the cursor, merged by order id (by time).
    let pages = join_all(state.shards.0.iter().map(|shard| async move {
        store::page(shard.database.pool(), wanted, query.cursor, limit + 1)
            .await
            .map_err(OrderError::on_shard(&shard.name))
    }))
    .await;
    let mut rows = Vec::new();
    for page in pages {
        rows.extend(page?);
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.order_id));
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = (rows.len() > limit).then(|| rows[limit - 1].order_id);
    rows.truncate(limit);
    Ok(Json(SagaPage {
        items: rows.iter().map(|row| SagaView::of(row, None)).collect(),
        next_cursor,
    }))
}
