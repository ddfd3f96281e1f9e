//! The MFA challenge a sign-in opens once its password is right: opened by the login, and
//! answered with a code at `/auth/mfa/verify`.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{client::ClientInfo, error::AuthError, state::AppState, store::mfa};

/// A password check passed by a user with MFA: the second factor is due.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Send it with a code to `/auth/mfa/verify`.
    pub challenge: Uuid,
    /// Seconds the challenge stays valid.
    pub expires_in: u64,
}

/// Opens a challenge for `user`, who has passed the password check.
pub async fn open_challenge(
    state: &AppState,
    user: Uuid,
    client: &ClientInfo,
) -> Result<MfaRequired, AuthError> {
    let challenge = Uuid::now_v7();
    let ttl = state.tokens.mfa_challenge_ttl;
    mfa::open_challenge(
        &state.db,
        challenge,
        user,
        &client.ip,
        client.device.as_deref(),
        ttl.as_secs_f64(),
    )
    .await?;
    Ok(MfaRequired {
        mfa_required: true,
        challenge,
        expires_in: ttl.as_secs(),
    })
}
