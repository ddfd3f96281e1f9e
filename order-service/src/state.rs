use std::sync::Arc;

use axum::extract::FromRef;
use messaging::Broker;
use shared::auth::Verifier;

use crate::{catalog::Catalog, saga::SagaPolicy, shards::Shards};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub shards: Arc<Shards>,
    pub catalog: Catalog,
    pub verifier: Arc<Verifier>,
    pub saga: SagaPolicy,
    /// The broker: the dead letters' counts, for operators.
    pub broker: Broker,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
