//! Issuing access tokens (JWT, EdDSA) and opaque refresh tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Header, encode};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::auth::{Claims, Role};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{config::TokenArgs, error::AuthError, keys::KeyRing};

/// What a successful login or refresh returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `/auth/refresh` for new tokens. Usable once.
    pub refresh_token: String,
    /// The session these tokens belong to.
    pub session_id: Uuid,
    /// What the account must do before its tokens carry all its roles: `mfa_enrolment`
    /// for an administrator with no second factor where one is required. Absent if none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_actions: Vec<&'static str>,
}

/// Signs an access token for `user` in `session`.
pub fn access_token(
    keys: &KeyRing,
    settings: &TokenArgs,
    user: Uuid,
    session: Uuid,
    roles: &[Role],
) -> Result<String, AuthError> {
    let (kid, key) = keys.signing_key().ok_or(AuthError::Unavailable(
        "The signing keys are not loaded yet; the database may be down.",
    ))?;
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(settings.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
    let claims = Claims {
        sub: user,
        sid: session,
        roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
        perms: Role::permissions_of(roles),
        iat: now,
        exp: now.saturating_add(ttl),
        iss: settings.token_issuer.clone(),
        aud: settings.token_audience.clone(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    encode(&header, &claims, &key).map_err(|err| AuthError::internal(err.to_string()))
}

/// A new opaque token (256 random bits, for refresh tokens and reset links) and the hash
/// it is stored under.
pub fn opaque_token() -> Result<(String, Vec<u8>), String> {
    let mut bytes = [0_u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness")?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = sha256(&token);
    Ok((token, hash))
}

/// SHA-256, for values that are random already (opaque tokens, recovery codes).
pub fn sha256(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}
