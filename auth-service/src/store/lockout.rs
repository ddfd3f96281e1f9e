//! Failed sign-ins, counted from the login audit log: per client IP, per (email, client IP)
//! and per email.

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
    Throttled,
    IpBlocked,
    RefreshTokenReuse,
    PasswordChangeRequired,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::MfaChallenge => "mfa_challenge",
            Self::UnknownEmail => "unknown_email",
            Self::WrongPassword => "wrong_password",
            Self::WrongCode => "wrong_code",
            Self::Throttled => "throttled",
            Self::IpBlocked => "ip_blocked",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::PasswordChangeRequired => "password_change_required",
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
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
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

/// If `ip` has failed too often within the window, whatever the accounts: how long until it
/// may try again.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
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
    Ok((count >= settings.ip_failure_limit).then(|| free_at(oldest, settings)))
}

/// If sign-ins to `email` are held back now, for this client or for everyone: how long
/// until they may be tried again. The same for an email that has no account, so that the
/// answer tells nothing of which emails have one. Failures before the account's last
/// success or unlock do not count.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn throttled(
    db: &PgPool,
    email: &str,
    ip: &str,
    settings: &LockoutArgs,
) -> sqlx::Result<Option<Duration>> {
    let failures = IP_FAILURES.map(Outcome::as_str);
    let (from_client, client_oldest, from_all, oldest): (
        i64,
        Option<DateTime<Utc>>,
        i64,
        Option<DateTime<Utc>>,
    ) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE ip = $2), min(occurred_at) FILTER (WHERE ip = $2),
                count(*), min(occurred_at)
         FROM login_audit
         WHERE email = $1 AND outcome = ANY($3)
           AND occurred_at > greatest(now() - make_interval(secs => $4),
                 COALESCE((SELECT failures_reset_at FROM users WHERE email = $1), '-infinity'))",
    )
    .bind(email)
    .bind(ip)
    .bind(&failures[..])
    .bind(settings.lockout_window.as_secs_f64())
    .fetch_one(db)
    .await?;
    if from_all >= settings.account_lockout_threshold {
        return Ok(Some(free_at(oldest, settings)));
    }
    Ok((from_client >= i64::from(settings.lockout_threshold))
        .then(|| free_at(client_oldest, settings)))
}

/// A success, or an administrator's unlock: failures before now count no more.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn reset(db: &PgPool, user: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query("UPDATE users SET failures_reset_at = now() WHERE id = $1")
        .bind(user)
        .execute(db)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// When the oldest counted failure leaves the window.
fn free_at(oldest: Option<DateTime<Utc>>, settings: &LockoutArgs) -> Duration {
    let window =
        chrono::Duration::from_std(settings.lockout_window).unwrap_or(chrono::Duration::MAX);
    oldest.map_or(settings.lockout_window, |oldest| until(oldest + window))
}

fn until(moment: DateTime<Utc>) -> Duration {
    (moment - Utc::now())
        .to_std()
        .unwrap_or(Duration::from_secs(1))
}
