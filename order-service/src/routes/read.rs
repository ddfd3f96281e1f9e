// utoipa's expansion of `params(ListQuery)` qualifies a path this module imports.
#![allow(unused_qualifications)]

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

use super::views::{OrderPage, OrderView};
use crate::{
    domain::status::Status,
    error::OrderError,
    state::AppState,
    store::{self, OrderRow},
};

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

/// Filters and paging of `GET /orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only orders in this status.
    pub status: Option<String>,
    /// `mine` (default) or `all` (needs `orders:read:any`; merged across every shard).
    pub scope: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// Whether `caller` may see `order`: its customer, the restaurant's owner, its courier, or
/// anyone with `orders:read:any`.
pub fn visible(caller: &AuthUser, order: &OrderRow) -> bool {
    let me = caller.0.sub;
    caller.0.has(Permission::ORDERS_READ_ANY)
        || order.customer_id == me
        || order.restaurant_owner_id == me
        || order.courier_id == Some(me)
}

/// Finds the order the id leads to; 404 for anyone not allowed to see it.
pub async fn load(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
) -> Result<(OrderRow, String), OrderError> {
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    let order = store::find(shard.database.pool(), id)
        .await
        .map_err(OrderError::on_shard(&shard.name))?
        .ok_or(OrderError::NotFound)?;
    if visible(caller, &order) {
        Ok((order, shard.name.clone()))
    } else {
        Err(OrderError::NotFound)
    }
}

/// One order. The id leads to its shard; no other shard is asked.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 404, description = "No such order that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Its shard is down", body = Problem, content_type = "application/problem+json")))]
pub async fn get_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderView>, OrderError> {
    let (order, _) = load(&state, &caller, id).await?;
    Ok(Json(OrderView::from(&order)))
}

/// My orders, newest first; with `scope=all`, everyone's, merged across the shards.
#[utoipa::path(get, path = "/orders", tag = "orders", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "One page", body = OrderPage),
        (status = 403, description = "scope=all without orders:read:any", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter or the page size is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A shard needed is down", body = Problem, content_type = "application/problem+json")))]
pub async fn list_orders(
    State(state): State<AppState>,
    caller: AuthUser,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<OrderPage>, OrderError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(OrderError::Validation(vec![FieldError::new(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        )]));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(name) => Some(
            Status::parse(name)
                .ok_or_else(|| {
                    OrderError::Validation(vec![FieldError::new(
                        "status",
                        "is not an order status",
                    )])
                })?
                .as_str(),
        ),
    };
    let all = match query.scope.as_deref() {
        None | Some("mine") => false,
        Some("all") => {
            caller.require(Permission::ORDERS_READ_ANY)?;
            true
        }
        Some(_) => {
            return Err(OrderError::Validation(vec![FieldError::new(
                "scope",
                "must be mine or all",
            )]));
        }
    };
    let mut rows = if all {
        // Scatter-gather: each shard's newest `limit + 1` below the cursor, merged by id
        // (UUIDv7: by time). Every order above the cut is on some shard's list, so no page
        // skips or repeats one.
        let pages = join_all(state.shards.0.iter().map(|shard| async move {
            store::page(shard.database.pool(), None, status, query.cursor, limit + 1)
                .await
                .map_err(OrderError::on_shard(&shard.name))
        }))
        .await;
        let mut merged = Vec::new();
        for page in pages {
            merged.extend(page?);
        }
        merged.sort_by_key(|row| std::cmp::Reverse(row.id));
        merged
    } else {
        let shard = state.shards.for_customer(caller.0.sub);
        store::page(
            shard.database.pool(),
            Some(caller.0.sub),
            status,
            query.cursor,
            limit + 1,
        )
        .await
        .map_err(OrderError::on_shard(&shard.name))?
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| row.id)
    } else {
        None
    };
    Ok(Json(OrderPage {
        items: rows.iter().map(OrderView::from).collect(),
        next_cursor,
    }))
}
