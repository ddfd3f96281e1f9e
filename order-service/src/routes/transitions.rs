use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use shared::{
    Problem,
    auth::{AuthUser, Permission},
};
use uuid::Uuid;

use super::{read::load, views::OrderView};
use crate::{
    domain::status::{Action, Status},
    error::OrderError,
    saga::{orchestrator, store as sagas},
    state::AppState,
    store,
};

/// Applies `action` if `caller` may and the status allows it.
async fn apply(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
    action: Action,
) -> Result<Response, OrderError> {
    let (order, shard_name) = load(state, caller, id).await?;
    let admin = caller.0.has_role("admin");
    let allowed = match action {
        Action::Cancel => {
            (order.customer_id == caller.0.sub && caller.0.has(Permission::ORDERS_CANCEL_OWN))
                || admin
        }
        Action::Accept | Action::Prepare | Action::MarkReady => {
            (order.restaurant_owner_id == caller.0.sub
                && caller.0.has(Permission::ORDERS_UPDATE_OWN_RESTAURANT))
                || admin
        }
    };
    if !allowed {
        return Err(Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            .with_detail("Only the order's customer may cancel it, and only its restaurant may move it along.")
            .into());
    }
    let current = Status::parse(&order.status).ok_or(OrderError::NotFound)?;
    let next = current
        .after(action)
        .ok_or_else(|| illegal(current, action))?;
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    if action == Action::Cancel
        && let Some(accepted) = cancel_through_saga(state, id).await?
    {
        return Ok(accepted);
    }
    let updated = store::transition(shard.database.pool(), id, current.as_str(), next.as_str())
        .await
        .map_err(OrderError::on_shard(&shard_name))?
        // Someone else changed it between the read and the write.
        .ok_or_else(|| illegal(current, action))?;
    tracing::info!(order = %id, from = %current, to = %next, "order status changed");
    Ok(Json(OrderView::from(&updated)).into_response())
}

/// Hands a cancellation to the order's saga, which undoes what was done (refund, shipment,
/// authorization) before the order becomes `CANCELLED`: 202 with the order as it stands.
/// `None` for an order that has no saga.
async fn cancel_through_saga(state: &AppState, id: Uuid) -> Result<Option<Response>, OrderError> {
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    let on_shard = OrderError::on_shard(&shard.name);
    let mut tx = shard.database.pool().begin().await.map_err(&on_shard)?;
    let Some(row) = sagas::lock(&mut tx, id).await.map_err(&on_shard)? else {
        return Ok(None);
    };
    let order = store::lock(&mut tx, id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let current = Status::parse(&order.status).ok_or(OrderError::NotFound)?;
    if current.after(Action::Cancel).is_none() {
        return Err(illegal(current, Action::Cancel));
    }
    orchestrator::cancel(&mut tx, &order, &row, &state.saga)
        .await
        .map_err(&on_shard)?;
    tx.commit().await.map_err(&on_shard)?;
    shard.outbox.committed();
    tracing::info!(order = %id, status = %current, "cancellation handed to the saga");
    Ok(Some(
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/orders/{id}/saga"))],
            Json(OrderView::from(&order)),
        )
            .into_response(),
    ))
}

fn illegal(current: Status, action: Action) -> OrderError {
    OrderError::IllegalTransition(format!(
        "An order that is {current} cannot be changed by {action:?}."
    ))
}

macro_rules! transition_handler {
    ($name:ident, $path:literal, $action:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "orders", security(("bearer" = [])),
            params(("id" = Uuid, Path, description = "Order id")),
            responses(
                (status = 200, description = "The order after the change", body = OrderView),
                (status = 403, description = "Not the customer or restaurant", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such order that the caller may see", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "The status does not allow it", body = Problem, content_type = "application/problem+json")))]
        pub async fn $name(State(state): State<AppState>, caller: AuthUser, Path(id): Path<Uuid>) -> Result<Response, OrderError> {
            apply(&state, &caller, id, $action).await
        }
    };
}

/// Cancels the order (its customer, before cooking starts). While its saga runs or once it
/// has confirmed the order, the saga undoes what it did (refund, shipment, authorization)
/// and then marks it `CANCELLED`: 202, with the order as it stands.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 202, description = "The saga is undoing the order; follow it at Location", body = OrderView),
        (status = 200, description = "Cancelled (an order without a saga)", body = OrderView),
        (status = 403, description = "Not the order's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cooking has started, or it is over", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, OrderError> {
    apply(&state, &caller, id, Action::Cancel).await
}
transition_handler!(
    accept_order,
    "/orders/{id}/accept",
    Action::Accept,
    "The restaurant takes the order (once its saga has confirmed it)."
);
transition_handler!(
    prepare_order,
    "/orders/{id}/preparing",
    Action::Prepare,
    "The kitchen starts on the order."
);
transition_handler!(
    mark_order_ready,
    "/orders/{id}/ready",
    Action::MarkReady,
    "The order waits for its courier."
);
