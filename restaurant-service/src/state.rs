use std::sync::Arc;

use axum::extract::FromRef;
use shared::auth::Verifier;

use crate::store::Restaurants;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub restaurants: Restaurants,
    pub verifier: Arc<Verifier>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
