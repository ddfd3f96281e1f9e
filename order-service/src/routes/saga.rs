// utoipa's expansion of `params(SagaQuery)` qualifies a path this module imports.
#![allow(unused_qualifications)]

//! The saga's history, for the order's customer and for operators.

use axum::{
    Json,
    extract::{Path, State},
};
use futures::future::join_all;
use serde::Deserialize;
use shared::{
    FieldError, Problem, QueryParams,
    auth::{AuthUser, Permission},
};
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    read::load,
    saga_views::{SagaPage, SagaView},
};
use crate::{
    error::OrderError,
    saga::{facts, log, machine::SagaState, store},
    shards::Shard,
    state::AppState,
};

/// Filters and paging of `GET /orders/admin/sagas`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SagaQuery {
    /// `running`, `compensating`, `cancelling`, `failed`, `completed`, `compensated` or
    /// `resolved`.
    pub state: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
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
    let (order, _) = load(&state, &caller, id).await?;
    let shard = state
        .shards
        .for_order(order.id)
        .ok_or(OrderError::NotFound)?;
    Ok(Json(detailed(shard, id).await?))
}

/// The saga with its log, what operators did, and the courier's facts that wait for it.
pub(super) async fn detailed(shard: &Shard, id: Uuid) -> Result<SagaView, OrderError> {
    let on_shard = OrderError::on_shard(&shard.name);
    let db = shard.database.pool();
    let row = store::find(db, id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let steps = log::log(db, id).await.map_err(&on_shard)?;
    let actions = log::actions(db, id).await.map_err(&on_shard)?;
    let waiting = facts::parked(db, id).await.map_err(&on_shard)?;
    Ok(SagaView::of(&row).with_history(steps, actions, waiting))
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
            "must be running, compensating, cancelling, failed, completed, compensated or resolved",
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
        items: rows.iter().map(SagaView::of).collect(),
        next_cursor,
    }))
}
