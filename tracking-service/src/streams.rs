//! Recording one event of a delivery: checked against the stream's state, appended with
//! optimistic concurrency, projected into the read models, all in the caller's transaction;
//! then, once committed, published to the live streams.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    error::TrackingError,
    events::{Delivery, Event},
    projections,
    read_models::{StatusView, status_of},
    state::AppState,
    store,
};

/// Appends `event` to `delivery`'s stream if `check` and the stream's rules allow it, and
/// projects it; with `expected`, only if the stream is at that version.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn record(
    tx: &mut PgConnection,
    delivery: Uuid,
    expected: Option<i32>,
    event: Event,
    snapshot_every: i32,
    check: impl FnOnce(&Delivery) -> Result<(), TrackingError>,
) -> Result<Delivery, TrackingError> {
    let current = store::load(tx, delivery).await?;
    if let Some(expected) = expected
        && expected != current.version
    {
        return Err(TrackingError::Stale {
            expected,
            actual: current.version,
        });
    }
    check(&current)?;
    if let Some(reason) = current.refuse(&event) {
        return Err(TrackingError::Refused(reason));
    }
    let (next, recorded_at) = store::append(tx, delivery, &current, &event, snapshot_every).await?;
    projections::project(tx, delivery, next.version, &event, recorded_at).await?;
    Ok(next)
}

/// Sends the delivery's committed status to its live streams; returns it.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn publish(state: &AppState, delivery: Uuid) -> Result<StatusView, TrackingError> {
    let view = status_of(&state.db, delivery)
        .await?
        .ok_or(TrackingError::NotFound)?;
    // Nobody listening is not an error.
    let _ = state
        .updates
        .send((delivery, serde_json::to_value(&view).unwrap_or_default()));
    Ok(view)
}
