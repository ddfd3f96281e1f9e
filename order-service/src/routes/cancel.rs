//! A customer's cancellation, handed to the order's saga.

use std::time::Duration;

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use shared::Problem;
use tokio::time::Instant;
use uuid::Uuid;

use super::views::OrderView;
use crate::{
    domain::status::{Action, Status},
    error::OrderError,
    saga::{
        machine::{SagaState, Step},
        orchestrator, store as sagas,
    },
    shards::Shard,
    state::AppState,
    store,
};

/// How often the cancellation's first step is looked at while the caller waits for it.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Hands the cancellation to the order's saga: 202 with the order as it stands, or 409 if
/// the order cannot be cancelled, including when the courier turns out to have the food
/// within the policy's `cancel_wait`.
pub(super) async fn cancel(state: &AppState, id: Uuid) -> Result<Response, OrderError> {
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    let on_shard = OrderError::on_shard(&shard.name);
    let mut tx = shard.database.pool().begin().await.map_err(&on_shard)?;
    let row = sagas::lock(&mut tx, id).await.map_err(&on_shard)?;
    let order = store::lock(&mut tx, id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let current = Status::parse(&order.status).ok_or(OrderError::NotFound)?;
    if current == Status::CancelPending {
        drop(tx);
        return accepted(shard, id).await;
    }
    if current.after(Action::Cancel).is_none() {
        return Err(refusal(current));
    }
    let Some(row) = row else {
        // Every order has a saga; one without would have nothing to undo.
        return Err(OrderError::illegal(current, Action::Cancel));
    };
    let saga = orchestrator::cancel(&mut tx, &order, &row, &state.saga)
        .await
        .map_err(&on_shard)?;
    tx.commit().await.map_err(&on_shard)?;
    shard.outbox.committed();
    tracing::info!(order = %id, status = %current, saga = saga.state.as_str(), "cancellation handed to the saga");
    if saga.state == SagaState::Cancelling
        && let Some(refused) = first_word(shard, id, state.saga.cancel_wait).await?
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "cancellation-refused",
            "Cancellation refused",
        )
        .with_detail(format!("The order goes on and is paid: {refused}."))
        .with_extension("saga", format!("/orders/{id}/saga"))
        .into());
    }
    accepted(shard, id).await
}

/// Waits up to `wait` for the shipment's cancel to be answered; the refusal's reason if it
/// was refused.
async fn first_word(shard: &Shard, id: Uuid, wait: Duration) -> Result<Option<String>, OrderError> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        tokio::time::sleep(LOOK_EVERY).await;
        let row = sagas::find(shard.database.pool(), id)
            .await
            .map_err(OrderError::on_shard(&shard.name))?;
        match row.and_then(|row| row.saga().map(|saga| (saga, row.reason))) {
            Some((saga, reason)) if saga.state == SagaState::Completed => {
                return Ok(Some(
                    reason.unwrap_or_else(|| "the courier has the food".into()),
                ));
            }
            Some((saga, _))
                if saga.state == SagaState::Cancelling && saga.step == Step::CancelShipment => {}
            _ => return Ok(None),
        }
    }
    Ok(None)
}

async fn accepted(shard: &Shard, id: Uuid) -> Result<Response, OrderError> {
    let order = store::find(shard.database.pool(), id)
        .await
        .map_err(OrderError::on_shard(&shard.name))?
        .ok_or(OrderError::NotFound)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/orders/{id}/saga"))],
        Json(OrderView::from(&order)),
    )
        .into_response())
}

/// Why an order in `current` cannot be cancelled.
fn refusal(current: Status) -> OrderError {
    let detail = match current {
        Status::Preparing | Status::Ready => {
            "Cooking has started: the order can no longer be cancelled."
        }
        Status::PickedUp | Status::Delivered => {
            "The courier has the food: the order can no longer be cancelled."
        }
        _ => "The order is over.",
    };
    OrderError::IllegalTransition(detail.to_owned())
}
