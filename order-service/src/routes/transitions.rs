use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use shared::{
    Problem,
    auth::{AuthUser, Permission},
};
use uuid::Uuid;

use super::{cancel, read::load, views::OrderView};
use crate::{
    domain::status::{Action, Status},
    error::OrderError,
    state::AppState,
    store,
};

/// Applies `action` if `caller` may and the status allows it. While a saga holds the order
/// (it is `PENDING` or `CANCEL_PENDING`), the restaurant's moves are refused, naming the saga.
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
    if action == Action::Cancel {
        return cancel::cancel(state, id).await;
    }
    let current = Status::parse(&order.status).ok_or(OrderError::NotFound)?;
    if current.is_held() {
        return Err(held(id, current));
    }
    let next = current
        .after(action)
        .ok_or_else(|| OrderError::illegal(current, action))?;
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    let updated = store::transition(shard.database.pool(), id, current.as_str(), next.as_str())
        .await
        .map_err(OrderError::on_shard(&shard_name))?
        // Someone else changed it between the read and the write (its saga, say).
        .ok_or_else(|| OrderError::illegal(current, action))?;
    tracing::info!(order = %id, from = %current, to = %next, "order status changed");
    Ok(Json(OrderView::from(&updated)).into_response())
}

/// The 409 for a move on an order its saga holds: it names the saga to follow.
pub(super) fn held(id: Uuid, current: Status) -> OrderError {
    let detail = if current == Status::CancelPending {
        "The order is being cancelled; it can be moved on only if its cancellation is refused."
    } else {
        "The order is not confirmed yet: its saga is still running."
    };
    Problem::new(
        StatusCode::CONFLICT,
        "saga-in-progress",
        "The order's saga holds it",
    )
    .with_detail(detail)
    .with_extension("saga", format!("/orders/{id}/saga"))
    .into()
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
                (status = 409, description = "The status does not allow it, or the order's saga holds it", body = Problem, content_type = "application/problem+json")))]
        pub async fn $name(State(state): State<AppState>, caller: AuthUser, Path(id): Path<Uuid>) -> Result<Response, OrderError> {
            apply(&state, &caller, id, $action).await
        }
    };
}

/// Cancels the order (its customer, before cooking starts and before the courier has the
/// food). While its saga runs, the cancellation is honoured when the current step ends;
/// once confirmed, the order is `CANCEL_PENDING` while its shipment is called off, then
/// `CANCELLED`, then refunded. 202 with the order as it stands; 409 if the courier had
/// picked the food up (the order goes on), known at once or within `CANCEL_WAIT`.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 202, description = "The saga is undoing the order; follow it at Location", body = OrderView),
        (status = 403, description = "Not the order's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cooking has started, the courier has the food, or it is over", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Its shard is down", body = Problem, content_type = "application/problem+json")))]
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
