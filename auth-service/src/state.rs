use std::sync::Arc;

use axum::extract::FromRef;
use messaging::Outbox;
use shared::auth::Verifier;
use shared::forwarded::TrustedProxies;
use sqlx::PgPool;

use crate::{
    code_key::CodeKey,
    config::{LockoutArgs, RegistrationArgs, ResetArgs, TokenArgs},
    keys::KeyRing,
    password::Hasher,
    seal::Sealer,
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
    pub registrations: Arc<RegistrationArgs>,
    pub resets: Arc<ResetArgs>,
    /// Account events (reset links, changes to how an account signs in) leave through it.
    pub outbox: Outbox,
    /// Whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Administrators must enrol a second factor before acting as such.
    pub admin_mfa_required: bool,
    /// What recovery codes are hashed with.
    pub code_key: CodeKey,
    /// What TOTP secrets are sealed with.
    pub sealer: Sealer,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
