use axum::{
    Json,
    extract::{Path, State},
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
    state::AppState,
    store,
};

/// Applies `action` if `caller` may and the status allows it.
async fn apply(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
    action: Action,
) -> Result<Json<OrderView>, OrderError> {
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
        return Err(Problem::new(http::StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            .with_detail("Only the order's customer may cancel it, and only its restaurant may move it along.")
            .into());
    }
    let current = Status::parse(&order.status).ok_or(OrderError::NotFound)?;
    let next = current
        .after(action)
        .ok_or_else(|| illegal(current, action))?;
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    let updated = store::transition(shard.database.pool(), id, current.as_str(), next.as_str())
        .await
        .map_err(OrderError::on_shard(&shard_name))?
        // Someone else changed it between the read and the write.
        .ok_or_else(|| illegal(current, action))?;
    tracing::info!(order = %id, from = %current, to = %next, "order status changed");
    Ok(Json(OrderView::from(&updated)))
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
        pub async fn $name(State(state): State<AppState>, caller: AuthUser, Path(id): Path<Uuid>) -> Result<Json<OrderView>, OrderError> {
            apply(&state, &caller, id, $action).await
        }
    };
}

transition_handler!(
    cancel_order,
    "/orders/{id}/cancel",
    Action::Cancel,
    "Cancels the order (its customer, before cooking starts)."
);
transition_handler!(
    accept_order,
    "/orders/{id}/accept",
    Action::Accept,
    "The restaurant takes the order."
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
