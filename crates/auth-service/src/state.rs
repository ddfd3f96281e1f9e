use std::sync::Arc;

use axum::extract::FromRef;
use shared::auth::Verifier;
use sqlx::PgPool;

use crate::{
    config::{LockoutArgs, TokenArgs},
    keys::KeyRing,
    password::Hasher,
};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: PgPool,
    pub keys: KeyRing,
    pub verifier: Arc<Verifier>,
    pub hasher: Hasher,
    pub tokens: Arc<TokenArgs>,
    pub lockout: Arc<LockoutArgs>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
