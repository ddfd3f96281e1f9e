//! The append-only event store, with snapshots.

use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::events::{Delivery, Event};

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended first: the expected version is stale.
    #[error("stale version: expected {expected}, the stream is at {actual}")]
    Stale { expected: i32, actual: i32 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The stream's state: the latest snapshot plus the events after it.
pub async fn load(tx: &mut PgConnection, stream: Uuid) -> sqlx::Result<Delivery> {
    let snapshot: Option<Json<Delivery>> =
        sqlx::query_scalar("SELECT state FROM snapshots WHERE stream_id = $1")
            .bind(stream)
            .fetch_optional(&mut *tx)
            .await?;
    let state = snapshot.map(|Json(state)| state).unwrap_or_default();
    let events: Vec<Json<Event>> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE stream_id = $1 AND version > $2 ORDER BY version",
    )
    .bind(stream)
    .bind(state.version)
    .fetch_all(&mut *tx)
    .await?;
    Ok(events
        .iter()
        .fold(state, |state, Json(event)| state.apply(event)))
}

/// Appends `event` as version `state.version + 1`; a concurrent append of that version makes
/// this one fail as stale. Every `snapshot_every` versions the new state is snapshotted.
pub async fn append(
    tx: &mut PgConnection,
    stream: Uuid,
    state: &Delivery,
    event: &Event,
    snapshot_every: i32,
) -> Result<(Delivery, chrono::DateTime<chrono::Utc>), AppendError> {
    let next = state.clone().apply(event);
    let recorded_at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "INSERT INTO events (stream_id, version, event_type, payload) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING recorded_at",
    )
    .bind(stream)
    .bind(next.version)
    .bind(event.kind())
    .bind(Json(event))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(recorded_at) = recorded_at else {
        return Err(AppendError::Stale {
            expected: state.version,
            actual: current_version(tx, stream).await?,
        });
    };
    if next.version % snapshot_every == 0 {
        sqlx::query(
            "INSERT INTO snapshots (stream_id, version, state) VALUES ($1, $2, $3)
             ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state",
        )
        .bind(stream)
        .bind(next.version)
        .bind(Json(&next))
        .execute(&mut *tx)
        .await?;
    }
    Ok((next, recorded_at))
}

async fn current_version(tx: &mut PgConnection, stream: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM events WHERE stream_id = $1")
        .bind(stream)
        .fetch_one(&mut *tx)
        .await
}

/// Every event of every stream, in order, for rebuilding read models.
pub async fn all_events(
    db: &PgPool,
) -> sqlx::Result<Vec<(Uuid, i32, Json<Event>, chrono::DateTime<chrono::Utc>)>> {
    sqlx::query_as(
        "SELECT stream_id, version, payload, recorded_at FROM events ORDER BY stream_id, version",
    )
    .fetch_all(db)
    .await
}
