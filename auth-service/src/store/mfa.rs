//! TOTP authenticators, recovery codes and MFA login challenges.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::totp_secret::StoredSecret;

/// Starts (or restarts) an enrolment with the `sealed` secret, inactive until confirmed.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn begin_enrolment(db: &PgPool, user: Uuid, sealed: &[u8]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mfa_totp (user_id, sealed_secret) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE
         SET sealed_secret = EXCLUDED.sealed_secret, secret = NULL, last_step = 0",
    )
    .bind(user)
    .bind(sealed)
    .execute(db)
    .await
    .map(drop)
}

/// An authenticator as stored.
#[derive(sqlx::FromRow)]
struct TotpRow {
    secret: Option<String>,
    sealed_secret: Option<Vec<u8>>,
    confirmed_at: Option<DateTime<Utc>>,
    last_step: i64,
}

impl TotpRow {
    fn split(self) -> (StoredSecret, Option<DateTime<Utc>>, i64) {
        let stored = StoredSecret {
            secret: self.secret,
            sealed_secret: self.sealed_secret,
        };
        (stored, self.confirmed_at, self.last_step)
    }
}

/// The user's authenticator secret and when it was confirmed, if one was enrolled.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn enrolment(
    db: &PgPool,
    user: Uuid,
) -> sqlx::Result<Option<(StoredSecret, Option<DateTime<Utc>>)>> {
    let row: Option<TotpRow> = sqlx::query_as(
        "SELECT secret, sealed_secret, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| {
        let (stored, confirmed_at, _) = row.split();
        (stored, confirmed_at)
    }))
}

/// Activates the authenticator, `step` being the code's time step.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn activate(connection: &mut PgConnection, user: Uuid, step: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE mfa_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1")
        .bind(user)
        .bind(step)
        .execute(connection)
        .await
        .map(drop)
}

/// The active authenticator's secret and the last time step a code was accepted for.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn active_secret(db: &PgPool, user: Uuid) -> sqlx::Result<Option<(StoredSecret, i64)>> {
    let row: Option<TotpRow> = sqlx::query_as(
        "SELECT secret, sealed_secret, confirmed_at, last_step FROM mfa_totp
         WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| {
        let (stored, _, last_step) = row.split();
        (stored, last_step)
    }))
}

/// Moves the last accepted step to `step`, if it is later: whether it was.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn advance_step(db: &PgPool, user: Uuid, step: i64) -> sqlx::Result<bool> {
    let updated =
        sqlx::query("UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(user)
            .bind(step)
            .execute(db)
            .await?;
    Ok(updated.rows_affected() == 1)
}

/// Replaces the user's recovery codes with those of `hashes` (keyed).
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn replace_recovery_codes(
    connection: &mut PgConnection,
    user: Uuid,
    hashes: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, code_hash, keyed)
         SELECT $1, hash, true FROM unnest($2::bytea[]) AS hash",
    )
    .bind(user)
    .bind(hashes)
    .execute(connection)
    .await
    .map(drop)
}

/// Uses up the recovery code of keyed hash `hash`: whether it was there unused.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn use_recovery_code(db: &PgPool, user: Uuid, hash: &[u8]) -> sqlx::Result<bool> {
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = now()
         WHERE user_id = $1 AND code_hash = $2 AND keyed AND used_at IS NULL",
    )
    .bind(user)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(used.rows_affected() == 1)
}

/// Removes the authenticator and the recovery codes: whether there was an active one.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn disable(connection: &mut PgConnection, user: Uuid) -> sqlx::Result<bool> {
    let removed =
        sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL")
            .bind(user)
            .execute(&mut *connection)
            .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(connection)
        .await?;
    Ok(removed.rows_affected() == 1)
}

/// Opens a login challenge for `user` that expires after `ttl_secs`.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn open_challenge(
    db: &PgPool,
    challenge: Uuid,
    user: Uuid,
    ip: &str,
    device: Option<&str>,
    ttl_secs: f64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mfa_challenges (id, user_id, ip, device, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(challenge)
    .bind(user)
    .bind(ip)
    .bind(device)
    .bind(ttl_secs)
    .execute(db)
    .await
    .map(drop)
}

/// The user an open, unexpired challenge is for.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn challenged_user(db: &PgPool, challenge: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT user_id FROM mfa_challenges WHERE id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(challenge)
    .fetch_optional(db)
    .await
}

/// Closes the challenge: whether it was still open (a second use is refused).
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn close_challenge(db: &PgPool, challenge: Uuid) -> sqlx::Result<bool> {
    let consumed =
        sqlx::query("UPDATE mfa_challenges SET used_at = now() WHERE id = $1 AND used_at IS NULL")
            .bind(challenge)
            .execute(db)
            .await?;
    Ok(consumed.rows_affected() == 1)
}
