//! What an operator does about a saga that failed: send its unresolved compensations again,
//! or close it after seeing to them by hand. Each action is logged with who and why.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use shared::{
    FieldError, JsonBody, Problem,
    auth::{AuthUser, Permission},
};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{saga::detailed, saga_views::SagaView};
use crate::{
    error::OrderError,
    saga::{log, orchestrator, store as sagas},
    state::AppState,
    store,
};

/// Why the operator acts, kept in the saga's log.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorNote {
    /// 1 to 1000 characters.
    #[schema(example = "refund made by hand in the processor's console")]
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Retry,
    Resolve,
}

/// Sends a failed saga's unresolved compensations again (`sagas:manage`).
#[utoipa::path(post, path = "/orders/admin/sagas/{id}/retry", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")), request_body = OperatorNote,
    responses(
        (status = 202, description = "The saga compensates again", body = SagaView),
        (status = 403, description = "Needs sagas:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such saga", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The saga has not failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Its shard is down", body = Problem, content_type = "application/problem+json")))]
pub async fn retry_saga(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<OperatorNote>,
) -> Result<(StatusCode, Json<SagaView>), OrderError> {
    act(&state, &caller, id, Act::Retry, &body.note)
        .await
        .map(|view| (StatusCode::ACCEPTED, Json(view)))
}

/// Closes a failed saga whose unresolved steps an operator saw to by hand
/// (`sagas:manage`); a held order takes its ending.
#[utoipa::path(post, path = "/orders/admin/sagas/{id}/resolve", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")), request_body = OperatorNote,
    responses(
        (status = 200, description = "Resolved", body = SagaView),
        (status = 403, description = "Needs sagas:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such saga", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The saga has not failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Its shard is down", body = Problem, content_type = "application/problem+json")))]
pub async fn resolve_saga(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<OperatorNote>,
) -> Result<Json<SagaView>, OrderError> {
    act(&state, &caller, id, Act::Resolve, &body.note)
        .await
        .map(Json)
}

async fn act(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
    act: Act,
    note: &str,
) -> Result<SagaView, OrderError> {
    caller.require(Permission::SAGAS_MANAGE)?;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 1000 {
        return Err(OrderError::Validation(vec![FieldError::new(
            "note",
            "must say why, in 1 to 1000 characters",
        )]));
    }
    let shard = state.shards.for_order(id).ok_or(OrderError::NotFound)?;
    let on_shard = OrderError::on_shard(&shard.name);
    let mut tx = shard.database.pool().begin().await.map_err(&on_shard)?;
    let row = sagas::lock(&mut tx, id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let order = store::lock(&mut tx, id)
        .await
        .map_err(&on_shard)?
        .ok_or(OrderError::NotFound)?;
    let (name, acted) = match act {
        Act::Retry => (
            "retry",
            orchestrator::retry(&mut tx, &order, &row, &state.saga).await,
        ),
        Act::Resolve => (
            "resolve",
            orchestrator::resolve(&mut tx, &order, &row).await,
        ),
    };
    if acted.map_err(&on_shard)?.is_none() {
        return Err(OrderError::IllegalTransition(format!(
            "Only a failed saga can be retried or resolved; this one is {}.",
            row.state
        )));
    }
    log::log_action(&mut tx, id, name, caller.0.sub, note)
        .await
        .map_err(&on_shard)?;
    tx.commit().await.map_err(&on_shard)?;
    shard.outbox.committed();
    tracing::info!(order = %id, action = name, operator = %caller.0.sub, %note, "an operator acted on a failed saga");
    detailed(shard, id).await
}
