//! auth-service's HTTP API.

mod accounts;
mod admin;
mod authorize;
mod challenge;
mod jwks;
mod login;
mod me;
mod mfa;
mod password;
mod register;
mod sessions;
mod tokens;
mod totp;

use axum::{
    Router,
    http::{HeaderValue, header},
    middleware::map_response,
    response::Response,
    routing::{delete, get, post},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::state::AppState;

/// The API's routes. Every answer of the account API is `Cache-Control: no-store` (RFC 6749
/// §5.1): tokens, TOTP secrets, recovery codes and account details are kept by no cache;
/// the published keys are public and may be.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/auth/register", post(register::register_user))
        .route("/auth/login", post(login::log_in))
        .route("/auth/mfa/verify", post(mfa::verify_mfa))
        .route("/auth/mfa/totp/setup", post(totp::set_up_totp))
        .route("/auth/mfa/totp/confirm", post(totp::confirm_totp))
        .route("/auth/mfa/totp/disable", post(totp::disable_totp))
        .route(
            "/auth/mfa/recovery-codes",
            post(totp::regenerate_recovery_codes),
        )
        .route("/auth/password", post(password::change_password))
        .route(
            "/auth/password/reset",
            post(password::request_password_reset),
        )
        .route(
            "/auth/password/reset/confirm",
            post(password::confirm_password_reset),
        )
        .route("/auth/refresh", post(tokens::refresh_tokens))
        .route("/auth/logout", post(tokens::log_out))
        .route("/auth/me", get(me::get_me))
        .route(
            "/auth/sessions",
            get(sessions::list_sessions).delete(sessions::revoke_other_sessions),
        )
        .route("/auth/sessions/{id}", delete(sessions::revoke_session))
        .route("/auth/authorize", post(authorize::authorize))
        .route("/auth/admin/users/{id}/roles", post(admin::grant_role))
        .route(
            "/auth/admin/users/{id}/roles/{role}",
            delete(admin::revoke_role),
        )
        .route("/auth/admin/users/{id}/unlock", post(admin::unlock_user))
        .route(
            "/auth/admin/users/{id}/disable",
            post(accounts::disable_user),
        )
        .route("/auth/admin/users/{id}/enable", post(accounts::enable_user))
        .route(
            "/auth/admin/users/{id}/mfa",
            delete(accounts::reset_user_mfa),
        )
        .route("/auth/admin/keys/rotate", post(admin::rotate_keys))
        .layer(map_response(no_store))
        // Also under the prefix, so that it can be fetched through the gateway.
        .route("/.well-known/jwks.json", get(jwks::get_jwks))
        .route("/auth/.well-known/jwks.json", get(jwks::get_jwks))
        .with_state(state)
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The API's OpenAPI paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        register::register_user,
        login::log_in,
        mfa::verify_mfa,
        totp::set_up_totp,
        totp::confirm_totp,
        totp::disable_totp,
        totp::regenerate_recovery_codes,
        password::change_password,
        password::request_password_reset,
        password::confirm_password_reset,
        tokens::refresh_tokens,
        tokens::log_out,
        me::get_me,
        sessions::list_sessions,
        sessions::revoke_session,
        sessions::revoke_other_sessions,
        authorize::authorize,
        admin::grant_role,
        admin::revoke_role,
        admin::unlock_user,
        accounts::disable_user,
        accounts::enable_user,
        accounts::reset_user_mfa,
        admin::rotate_keys,
        jwks::get_jwks,
    ),
    components(schemas(
        crate::domain::RegisterRequest,
        register::UserResponse,
        login::LoginRequest,
        challenge::MfaRequired,
        crate::tokens::TokenResponse,
        totp::TotpSetup,
        totp::TotpCode,
        totp::RecoveryCodes,
        totp::StepUp,
        totp::DisableTotp,
        mfa::VerifyRequest,
        password::ChangePassword,
        password::ResetRequest,
        password::ResetConfirmation,
        tokens::RefreshRequest,
        me::Me,
        crate::store::sessions::SessionView,
        authorize::AuthorizeRequest,
        authorize::Decision,
        admin::RoleGrant,
        admin::UserRoles,
        admin::RotatedKey,
        shared::auth::Jwks,
        shared::auth::Jwk,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Registration and accounts"),
        (name = "sessions", description = "Login, tokens and sessions"),
        (name = "mfa", description = "TOTP second factor"),
        (name = "permissions", description = "Authorization decisions"),
        (name = "admin", description = "Roles, locks, accounts and keys"),
        (name = "keys", description = "Published signing keys"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
