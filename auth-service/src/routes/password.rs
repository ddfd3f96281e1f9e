//! Changing a password, and resetting a forgotten one by a single-use link.

use axum::{extract::State, http::StatusCode};
use messaging::{
    Message,
    contracts::{self, event},
    outbox,
};
use serde::Deserialize;
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;

use crate::{
    account::Account,
    account_events,
    client::ClientInfo,
    domain::check_password,
    error::AuthError,
    state::AppState,
    store::{
        lockout, resets,
        revocations::{self, Revocation},
        users,
    },
    tokens,
};

/// A new password for the signed-in account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(format = Password)]
    pub current_password: String,
    #[schema(format = Password)]
    pub new_password: String,
}

/// Asks for a reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
}

/// A reset link's token and the password it sets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmation {
    pub token: String,
    #[schema(format = Password)]
    pub new_password: String,
}

/// Changes the password: the current one is needed, and every other session of the
/// account is revoked (this one stays). The owner is told by an `account.password_changed`
/// event.
#[utoipa::path(post, path = "/auth/password", tag = "accounts", security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed; the other sessions are revoked"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks the policy", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn change_password(
    State(state): State<AppState>,
    account: Account,
    client: ClientInfo,
    JsonBody(request): JsonBody<ChangePassword>,
) -> Result<StatusCode, AuthError> {
    let user = account
        .confirm_password(&state, &client, request.current_password.clone())
        .await?;
    if request.new_password == request.current_password {
        return Err(new_password_error("must differ from the current password"));
    }
    check_password(&request.new_password, &user.email).map_err(new_password_error)?;
    let hash = hash(&state, request.new_password).await?;
    let mut transaction = state.db.begin().await?;
    users::set_password(&mut transaction, user.id, &hash).await?;
    let revocation = Revocation::of(&state, user.id, "password_changed");
    let revoked =
        revocations::revoke_all(&mut transaction, revocation, Some(account.claims.sid)).await?;
    resets::void_all(&mut transaction, user.id).await?;
    account_events::announce(
        &mut transaction,
        event::PASSWORD_CHANGED,
        &user,
        "changed_by_owner",
    )
    .await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %user.id, revoked, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a reset link to the account with this email, if there is one: the answer is the
/// same, and as quick, whether there is or not. The link holds a single-use token that
/// expires (`PASSWORD_RESET_TTL`); it is delivered by an `account.password_reset_requested`
/// event, and a local stack can log it (`LOG_RESET_LINKS`).
#[utoipa::path(post, path = "/auth/password/reset", tag = "accounts",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "If the email has an account, a link is on its way"),
        (status = 422, description = "The email is missing or too long", body = Problem, content_type = "application/problem+json")))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(request): JsonBody<ResetRequest>,
) -> Result<StatusCode, AuthError> {
    let email = request.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Err(AuthError::Validation(vec![FieldError::new(
            "email",
            "must have 1 to 254 characters",
        )]));
    }
    // Issued off the request, so that its time says nothing of whether the account exists.
    tokio::spawn(async move {
        if let Err(err) = issue_reset(&state, &email, &client).await {
            tracing::error!(error = %err, "a password reset could not be issued");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset link's token. The token is used up, every other reset
/// link of the account stops working, every session is revoked, and failed sign-ins count
/// no more. A second factor, if the account has one, is still asked at the next sign-in.
#[utoipa::path(post, path = "/auth/password/reset/confirm", tag = "accounts",
    request_body = ResetConfirmation,
    responses(
        (status = 204, description = "The password is set; every session is revoked"),
        (status = 422, description = "The token is unknown, used or expired, or the password breaks the policy", body = Problem, content_type = "application/problem+json")))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ResetConfirmation>,
) -> Result<StatusCode, AuthError> {
    let mut transaction = state.db.begin().await?;
    let user = resets::redeem(&mut transaction, &tokens::sha256(request.token.trim())).await?;
    let user = match user {
        Some(user) => users::find_by_id(&state.db, user).await?,
        None => None,
    }
    .ok_or_else(|| {
        AuthError::Validation(vec![FieldError::new(
            "token",
            "is unknown, used or expired; ask for a new link",
        )])
    })?;
    // A refused password rolls back, and the link stays usable for a better one.
    check_password(&request.new_password, &user.email).map_err(new_password_error)?;
    let hash = hash(&state, request.new_password).await?;
    users::set_password(&mut transaction, user.id, &hash).await?;
    resets::void_all(&mut transaction, user.id).await?;
    let revocation = Revocation::of(&state, user.id, "password_reset");
    let revoked = revocations::revoke_all(&mut transaction, revocation, None).await?;
    account_events::announce(&mut transaction, event::PASSWORD_CHANGED, &user, "reset").await?;
    transaction.commit().await?;
    state.outbox.committed();
    lockout::reset(&state.db, user.id).await?;
    tracing::info!(user = %user.id, revoked, "password reset");
    Ok(StatusCode::NO_CONTENT)
}

async fn issue_reset(state: &AppState, email: &str, client: &ClientInfo) -> Result<(), AuthError> {
    let Some(user) = users::find_by_email(&state.db, email).await? else {
        tracing::info!("a password reset was asked for an email with no account");
        return Ok(());
    };
    let settings = &state.resets;
    let (token, token_hash) = tokens::opaque_token().map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    let issued = resets::issue(
        &mut transaction,
        user.id,
        &token_hash,
        &client.ip,
        settings.password_reset_ttl,
        settings.password_resets_per_account,
    )
    .await?;
    let Some(expires_at) = issued else {
        tracing::warn!(user = %user.id, "password resets asked too often; none sent");
        return Ok(());
    };
    let mut link = settings.password_reset_url.clone();
    link.query_pairs_mut().append_pair("token", &token);
    let event = contracts::PasswordResetRequested {
        user_id: user.id,
        email: user.email,
        reset_link: link.to_string(),
        expires_at,
    };
    let message = Message::event(event::PASSWORD_RESET_REQUESTED, user.id, event);
    outbox::enqueue(&mut transaction, &message).await?;
    transaction.commit().await?;
    state.outbox.committed();
    if settings.log_reset_links {
        tracing::info!(user = %user.id, %link, "password reset link (LOG_RESET_LINKS is on)");
    } else {
        tracing::info!(user = %user.id, "password reset link sent");
    }
    Ok(())
}

async fn hash(state: &AppState, password: String) -> Result<String, AuthError> {
    state
        .hasher
        .hash_blocking(password)
        .await
        .map_err(AuthError::internal)
}

fn new_password_error(detail: impl Into<String>) -> AuthError {
    AuthError::Validation(vec![FieldError::new("new_password", detail)])
}
