use axum::{Json, extract::State, http::header, response::IntoResponse};
use shared::auth::Jwks;

use crate::state::AppState;

/// The public keys access tokens are signed with (RFC 7517). Keys that signed tokens which
/// may still be live stay listed after a rotation.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys",
    responses((status = 200, description = "The key set", body = Jwks)))]
pub async fn get_jwks(State(state): State<AppState>) -> impl IntoResponse {
    let jwks = state
        .keys
        .published()
        .read()
        .map(|jwks| jwks.clone())
        .unwrap_or_default();
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(jwks))
}
