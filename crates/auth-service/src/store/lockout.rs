//! Failed-attempt tracking per account and per client IP, and the login audit log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::LockoutArgs;

/// How a login attempt ended, as written to the audit log.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    MfaChallenge,
    UnknownEmail,
    WrongPassword,
    WrongCode,
    Locked,
    IpBlocked,
    RefreshTokenReuse,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::MfaChallenge => "mfa_challenge",
            Self::UnknownEmail => "unknown_email",
            Self::WrongPassword => "wrong_password",
            Self::WrongCode => "wrong_code",
            Self::Locked => "locked",
            Self::IpBlocked => "ip_blocked",
            Self::RefreshTokenReuse => "refresh_token_reuse",
        }
    }
}

/// The outcomes that count towards a client IP's failures.
const IP_FAILURES: [Outcome; 3] = [
    Outcome::UnknownEmail,
    Outcome::WrongPassword,
    Outcome::WrongCode,
];

/// Writes one attempt to the audit log.
pub async fn audit(
    db: &PgPool,
    user: Option<Uuid>,
    email: &str,
    ip: &str,
    device: Option<&str>,
    outcome: Outcome,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO login_audit (id, user_id, email, ip, user_agent, outcome) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(email)
        .bind(ip)
        .bind(device)
        .bind(outcome.as_str())
        .execute(db)
        .await
        .map(drop)
}

/// If `ip` has failed too often within the window: how long until it may try again.
pub async fn ip_blocked(
    db: &PgPool,
    ip: &str,
    settings: &LockoutArgs,
) -> sqlx::Result<Option<Duration>> {
    let failures = IP_FAILURES.map(Outcome::as_str);
    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), min(occurred_at) FROM login_audit
         WHERE ip = $1 AND outcome = ANY($2) AND occurred_at > now() - make_interval(secs => $3)",
    )
    .bind(ip)
    .bind(&failures[..])
    .bind(settings.lockout_window.as_secs_f64())
    .fetch_one(db)
    .await?;
    if count < settings.ip_failure_limit {
        return Ok(None);
    }
    let window =
        chrono::Duration::from_std(settings.lockout_window).unwrap_or(chrono::Duration::MAX);
    Ok(oldest.map(|oldest| until(oldest + window)))
}

/// If the account is locked now: how long until it opens.
pub fn locked_for(locked_until: Option<DateTime<Utc>>) -> Option<Duration> {
    locked_until.filter(|until| *until > Utc::now()).map(until)
}

/// Counts a failure against the account; locks it when the threshold is reached within the
/// window, each lock twice as long as the one before (up to the maximum).
pub async fn record_failure(db: &PgPool, user: Uuid, settings: &LockoutArgs) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET
            failed_attempts = CASE WHEN first_failed_at IS NULL OR first_failed_at < now() - make_interval(secs => $2)
                                   THEN 1 ELSE failed_attempts + 1 END,
            first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at < now() - make_interval(secs => $2)
                                   THEN now() ELSE first_failed_at END
         WHERE id = $1",
    )
    .bind(user)
    .bind(settings.lockout_window.as_secs_f64())
    .execute(db)
    .await?;
    sqlx::query(
        "UPDATE users SET
            locked_until = now() + make_interval(secs => least($3 * power(2, lockouts), $4)),
            lockouts = lockouts + 1,
            failed_attempts = 0,
            first_failed_at = NULL
         WHERE id = $1 AND failed_attempts >= $2",
    )
    .bind(user)
    .bind(settings.lockout_threshold)
    .bind(settings.lockout_duration.as_secs_f64())
    .bind(settings.lockout_max_duration.as_secs_f64())
    .execute(db)
    .await
    .map(drop)
}

/// A success: the failure count and the lock history start again.
pub async fn reset(db: &PgPool, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET failed_attempts = 0, first_failed_at = NULL, lockouts = 0 WHERE id = $1",
    )
    .bind(user)
    .execute(db)
    .await
    .map(drop)
}

/// An administrator opens the account at once.
pub async fn unlock(db: &PgPool, user: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE users SET locked_until = NULL, failed_attempts = 0, first_failed_at = NULL, lockouts = 0 WHERE id = $1",
    )
    .bind(user)
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}

fn until(moment: DateTime<Utc>) -> Duration {
    (moment - Utc::now())
        .to_std()
        .unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_in_the_past_is_no_lock() {
        assert!(locked_for(Some(Utc::now() - chrono::Duration::seconds(5))).is_none());
        assert!(locked_for(Some(Utc::now() + chrono::Duration::seconds(30))).is_some());
        assert!(locked_for(None).is_none());
    }
}
