use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::{HeaderValue, StatusCode, header, request::Parts};

use super::{Claims, TokenError, Verifier};
use crate::problem::Problem;

/// The authenticated caller: a handler taking this runs only for a valid access token.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    /// Refuses with 403 unless the token grants `permission`.
    pub fn require(&self, permission: &str) -> Result<(), Problem> {
        if self.0.has(permission) {
            Ok(())
        } else {
            Err(
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                    .with_detail(format!("This action needs the permission `{permission}`.")),
            )
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        let token = bearer_token(&parts.headers).ok_or(TokenError::Missing);
        match token {
            Ok(token) => verifier.verify(token).await.map(AuthUser).map_err(refusal),
            Err(err) => Err(refusal(err)),
        }
    }
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// 401 with `WWW-Authenticate` (RFC 6750), or 503 when the keys cannot be had.
pub fn refusal(err: TokenError) -> Problem {
    if err == TokenError::KeysUnavailable {
        return Problem::unavailable("The token cannot be checked right now.");
    }
    let challenge = match err {
        TokenError::Missing => r#"Bearer realm="food-delivery""#.to_owned(),
        _ => format!(
            r#"Bearer realm="food-delivery", error="invalid_token", error_description="{err}""#
        ),
    };
    let problem = match err {
        TokenError::Revoked => {
            Problem::new(StatusCode::UNAUTHORIZED, "token-revoked", "Token revoked")
        }
        _ => Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
    }
    .with_detail(match err {
        TokenError::Missing => "This endpoint needs a bearer token.".to_owned(),
        TokenError::Revoked => {
            "The bearer token's session has ended (signed out or revoked); sign in again."
                .to_owned()
        }
        other => format!("The bearer token was refused: {other}."),
    });
    match HeaderValue::from_str(&challenge) {
        Ok(value) => problem.with_header(header::WWW_AUTHENTICATE, value),
        Err(_) => problem,
    }
}
