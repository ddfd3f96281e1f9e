//! Registration attempts per client address.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

/// Records an attempt from `ip` unless it already made `limit` within `window`; then
/// returns how long until its oldest one leaves the window.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn admit(
    db: &PgPool,
    ip: &str,
    limit: i64,
    window: Duration,
) -> sqlx::Result<Option<Duration>> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let since = Utc::now() - window;
    let mut tx = db.begin().await?;
    // One address's attempts are counted one at a time, so that a burst cannot slip past.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
        .bind(ip)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM registration_attempts WHERE ip = $1 AND at <= $2")
        .bind(ip)
        .bind(since)
        .execute(&mut *tx)
        .await?;
    let (made, oldest): (i64, Option<chrono::DateTime<Utc>>) =
        sqlx::query_as("SELECT count(*), min(at) FROM registration_attempts WHERE ip = $1")
            .bind(ip)
            .fetch_one(&mut *tx)
            .await?;
    if made >= limit {
        let free_at = oldest.unwrap_or_else(Utc::now) + window;
        return Ok(Some((free_at - Utc::now()).to_std().unwrap_or_default()));
    }
    sqlx::query("INSERT INTO registration_attempts (ip) VALUES ($1)")
        .bind(ip)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(None)
}
