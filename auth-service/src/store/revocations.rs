//! Ending sessions, each revocation announced as `session.revoked` on the outbox in the
//! same transaction, so that the gateway refuses the sessions' access tokens at once
//! instead of when they expire.

use std::time::Duration;

use chrono::Utc;
use messaging::{
    Message,
    contracts::{SessionsRevoked, event},
    outbox,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::state::AppState;

/// Why sessions end, and how long their access tokens could live on: what every
/// revocation needs besides the sessions themselves.
#[derive(Debug, Clone, Copy)]
pub struct Revocation<'a> {
    /// The sessions' owner.
    pub user: Uuid,
    /// `logout`, `revoked_by_user`, `password_changed`, ...
    pub why: &'a str,
    /// The access tokens' lifetime: a token issued just before now expires that long after.
    pub token_lifetime: Duration,
}

impl<'a> Revocation<'a> {
    /// The revocation of sessions of `user`, for `why`, under `state`'s token lifetime.
    pub fn of(state: &AppState, user: Uuid, why: &'a str) -> Self {
        Self {
            user,
            why,
            token_lifetime: state.tokens.access_token_ttl,
        }
    }
}

/// Revokes `session` of the revocation's user; whether there was such an open session.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn revoke(
    connection: &mut PgConnection,
    revocation: Revocation<'_>,
    session: Uuid,
) -> sqlx::Result<bool> {
    let revoked: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = now(), revoked_why = $3
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id",
    )
    .bind(session)
    .bind(revocation.user)
    .bind(revocation.why)
    .fetch_all(&mut *connection)
    .await?;
    announce(connection, revocation, revoked).await
}

/// Revokes every open session of the revocation's user but `except`: how many were.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn revoke_all(
    connection: &mut PgConnection,
    revocation: Revocation<'_>,
    except: Option<Uuid>,
) -> sqlx::Result<u64> {
    let revoked: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = now(), revoked_why = $3
         WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 RETURNING id",
    )
    .bind(revocation.user)
    .bind(except)
    .bind(revocation.why)
    .fetch_all(&mut *connection)
    .await?;
    let count = u64::try_from(revoked.len()).unwrap_or(u64::MAX);
    announce(connection, revocation, revoked).await?;
    Ok(count)
}

/// Writes the event for `sessions`, if any were revoked; whether any were.
async fn announce(
    connection: &mut PgConnection,
    revocation: Revocation<'_>,
    sessions: Vec<Uuid>,
) -> sqlx::Result<bool> {
    if sessions.is_empty() {
        return Ok(false);
    }
    let lifetime =
        chrono::Duration::from_std(revocation.token_lifetime).unwrap_or(chrono::Duration::MAX);
    let event = SessionsRevoked {
        user_id: revocation.user,
        session_ids: sessions,
        why: revocation.why.to_owned(),
        expires_at: Utc::now()
            .checked_add_signed(lifetime)
            .unwrap_or(Utc::now()),
    };
    let message = Message::event(event::SESSION_REVOKED, revocation.user, event);
    outbox::enqueue(connection, &message).await?;
    Ok(true)
}
