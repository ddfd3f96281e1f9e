//! Sessions and their refresh tokens.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::auth::Role;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    client::ClientInfo,
    error::AuthError,
    state::AppState,
    store::{
        required_actions,
        revocations::{self, Revocation},
        users,
    },
    tokens::{self, TokenResponse},
};

/// A session as its owner sees it.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SessionView {
    pub id: Uuid,
    pub device: Option<String>,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Whether the request listing the sessions was made in this one.
    #[sqlx(default)]
    pub current: bool,
}

/// Opens a session for `user` and issues its first tokens.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn start(
    state: &AppState,
    user: Uuid,
    client: &ClientInfo,
) -> Result<TokenResponse, AuthError> {
    let session = Uuid::now_v7();
    let (refresh_token, hash) = tokens::opaque_token().map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    // No session for a disabled account, checked by the statement that opens it: an account
    // disabled meanwhile gets none either.
    let opened = sqlx::query(
        "INSERT INTO sessions (id, user_id, device, ip)
         SELECT $1, id, $3, $4 FROM users WHERE id = $2 AND disabled_at IS NULL",
    )
    .bind(session)
    .bind(user)
    .bind(client.device.as_deref())
    .bind(&client.ip)
    .execute(&mut *transaction)
    .await?;
    if opened.rows_affected() == 0 {
        return Err(AuthError::AccountDisabled);
    }
    insert_refresh_token(&mut transaction, session, &hash, state).await?;
    transaction.commit().await?;
    respond(state, user, session, refresh_token).await
}

/// Exchanges a refresh token for new tokens. A token used before marks the session's tokens
/// as stolen: the whole session is revoked.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Refreshed, AuthError> {
    let hash = tokens::sha256(refresh_token);
    let mut transaction = state.db.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT rt.session_id AS session, rt.used_at, rt.expires_at, s.user_id, s.revoked_at,
                s.created_at AS session_started, u.disabled_at IS NOT NULL AS disabled
         FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
         JOIN users u ON u.id = s.user_id
         WHERE rt.token_hash = $1 FOR UPDATE OF rt, s",
    )
    .bind(&hash)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(RefreshRow {
        session,
        used_at,
        expires_at,
        user_id: user,
        revoked_at,
        session_started,
        disabled,
    }) = row
    else {
        return Ok(Refreshed::Invalid);
    };
    if used_at.is_some() {
        let revocation = Revocation::of(state, user, "refresh_token_reuse");
        revocations::revoke(&mut transaction, revocation, session).await?;
        transaction.commit().await?;
        state.outbox.committed();
        return Ok(Refreshed::Reused { user, session });
    }
    // Before the revocation: a disabled account's sessions are revoked too, and its owner
    // is told why the token no longer works.
    if disabled {
        return Ok(Refreshed::Disabled);
    }
    if revoked_at.is_some() || expires_at <= Utc::now() {
        return Ok(Refreshed::Invalid);
    }
    // However often it is refreshed, a session ends at its lifetime: then the password
    // (and the second factor) are asked again.
    let lifetime =
        chrono::Duration::from_std(state.tokens.session_lifetime).unwrap_or(chrono::Duration::MAX);
    if session_started + lifetime <= Utc::now() {
        let revocation = Revocation::of(state, user, "lifetime_reached");
        revocations::revoke(&mut transaction, revocation, session).await?;
        transaction.commit().await?;
        state.outbox.committed();
        return Ok(Refreshed::Invalid);
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(&hash)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE id = $1")
        .bind(session)
        .execute(&mut *transaction)
        .await?;
    let (next, next_hash) = tokens::opaque_token().map_err(AuthError::internal)?;
    insert_refresh_token(&mut transaction, session, &next_hash, state).await?;
    transaction.commit().await?;
    Ok(Refreshed::Tokens(
        respond(state, user, session, next).await?,
    ))
}

/// A refresh token with its session's state.
#[derive(Debug, sqlx::FromRow)]
struct RefreshRow {
    session: Uuid,
    used_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    user_id: Uuid,
    revoked_at: Option<DateTime<Utc>>,
    session_started: DateTime<Utc>,
    disabled: bool,
}

/// What a refresh came to.
#[derive(Debug)]
pub enum Refreshed {
    /// New tokens.
    Tokens(TokenResponse),
    /// The token had been used: its session is now revoked.
    Reused { user: Uuid, session: Uuid },
    /// Unknown, expired, or its session revoked.
    Invalid,
    /// The account is disabled.
    Disabled,
}

/// Whether `session` of `user` is still open.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn is_active(db: &PgPool, user: Uuid, session: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL)")
        .bind(session)
        .bind(user)
        .fetch_one(db)
        .await
}

/// The user's open sessions, newest first.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn list(db: &PgPool, user: Uuid, current: Uuid) -> sqlx::Result<Vec<SessionView>> {
    let mut sessions: Vec<SessionView> = sqlx::query_as(
        "SELECT id, device, ip, created_at, last_seen_at FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 100",
    )
    .bind(user)
    .fetch_all(db)
    .await?;
    for session in &mut sessions {
        session.current = session.id == current;
    }
    Ok(sessions)
}

async fn insert_refresh_token(
    transaction: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    session: Uuid,
    hash: &[u8],
    state: &AppState,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))")
        .bind(hash)
        .bind(session)
        .bind(state.tokens.refresh_token_ttl.as_secs_f64())
        .execute(&mut **transaction)
        .await
        .map(drop)
}

async fn respond(
    state: &AppState,
    user: Uuid,
    session: Uuid,
    refresh_token: String,
) -> Result<TokenResponse, AuthError> {
    let mut roles: Vec<Role> = users::roles_of(&state.db, user).await?;
    let mut required_actions = Vec::new();
    // Until an administrator who must have a second factor enrols one, no service takes
    // their tokens for an administrator's.
    if required_actions::must_enrol_mfa(state, user, &roles).await? {
        roles.retain(|role| *role != Role::Admin);
        required_actions.push(required_actions::MFA_ENROLMENT);
    }
    let access_token = tokens::access_token(&state.keys, &state.tokens, user, session, &roles)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_token_ttl.as_secs(),
        refresh_token,
        session_id: session,
        required_actions,
    })
}
