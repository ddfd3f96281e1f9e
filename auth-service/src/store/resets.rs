//! Password-reset tokens: single-use, expiring, stored as their SHA-256.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Records a reset token for `user` unless `limit` were issued to it within `ttl`; returns
/// when the new one expires, or `None` when the account has had its share.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn issue(
    connection: &mut PgConnection,
    user: Uuid,
    token_hash: &[u8],
    ip: &str,
    ttl: Duration,
    limit: i64,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    // One account's requests are counted one at a time, so that a burst cannot slip past.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 11))")
        .bind(user)
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "DELETE FROM password_resets WHERE user_id = $1 AND expires_at < now() - interval '1 day'",
    )
    .bind(user)
    .execute(&mut *connection)
    .await?;
    let recent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM password_resets
         WHERE user_id = $1 AND created_at > now() - make_interval(secs => $2)",
    )
    .bind(user)
    .bind(ttl.as_secs_f64())
    .fetch_one(&mut *connection)
    .await?;
    if recent >= limit {
        return Ok(None);
    }
    sqlx::query_scalar(
        "INSERT INTO password_resets (token_hash, user_id, requested_ip, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at",
    )
    .bind(token_hash)
    .bind(user)
    .bind(ip)
    .bind(ttl.as_secs_f64())
    .fetch_one(connection)
    .await
    .map(Some)
}

/// Uses the token up: the account it resets, if it was issued, unused and unexpired.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn redeem(
    connection: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "UPDATE password_resets SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(token_hash)
    .fetch_optional(connection)
    .await
}

/// Voids every outstanding token of `user`: once the password is changed, an older link
/// must not change it again.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn void_all(connection: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
        .bind(user)
        .execute(connection)
        .await
        .map(drop)
}
