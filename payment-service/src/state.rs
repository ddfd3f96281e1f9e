use std::sync::Arc;

use axum::extract::FromRef;
use messaging::Outbox;
use shared::auth::Verifier;
use sqlx::PgPool;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: PgPool,
    /// The payments database's outbox, for the events of operators' operations.
    pub outbox: Outbox,
    pub verifier: Arc<Verifier>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
