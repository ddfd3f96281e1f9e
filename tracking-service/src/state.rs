use std::sync::Arc;

use axum::extract::FromRef;
use shared::auth::Verifier;
use sqlx::PgPool;
use tokio::sync::broadcast;

use crate::live::StreamSlots;
use uuid::Uuid;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: PgPool,
    pub verifier: Arc<Verifier>,
    /// Every appended event's delivery and its status view, for live streams.
    pub updates: broadcast::Sender<(Uuid, serde_json::Value)>,
    pub snapshot_every: i32,
    /// Live streams held per user.
    pub streams: StreamSlots,
    /// How long a live stream may go without a change.
    pub stream_idle: std::time::Duration,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
