use axum::{Json, extract::State, response::IntoResponse};
use serde::{Deserialize, Serialize};
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;
use uuid::Uuid;

use super::login::MfaRequired;
use crate::{
    account::Account,
    client::ClientInfo,
    error::AuthError,
    state::AppState,
    store::{
        lockout::{self, Outcome},
        sessions, users,
    },
    tokens::{TokenResponse, sha256},
    totp,
};

/// A new, unconfirmed authenticator.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The shared secret, base32.
    pub secret: String,
    /// The same as an `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

/// A code from the authenticator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    #[schema(example = "123456")]
    pub code: String,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// The second step of an MFA login: the challenge and a TOTP or a recovery code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub challenge: Uuid,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// The account's password, asked again before a change to how it signs in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUp {
    pub password: String,
}

/// Starts TOTP enrolment: a new secret, inactive until confirmed with a code. The password
/// is asked again, so that a stolen access token cannot enrol the thief's authenticator.
#[utoipa::path(post, path = "/auth/mfa/totp/setup", tag = "mfa", security(("bearer" = [])),
    request_body = StepUp,
    responses(
        (status = 200, description = "The secret", body = TotpSetup),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator is already active", body = Problem, content_type = "application/problem+json")))]
pub async fn set_up_totp(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
    JsonBody(step_up): JsonBody<StepUp>,
) -> Result<Json<TotpSetup>, AuthError> {
    let user = users::find_by_id(&state.db, claims.sub)
        .await?
        .ok_or(AuthError::NotFound("user"))?;
    let verified = state
        .hasher
        .verify_blocking(step_up.password, Some(user.password_hash.clone()))
        .await;
    if !verified {
        return Err(AuthError::WrongPassword);
    }
    if users::has_mfa(&state.db, claims.sub).await? {
        return Err(AuthError::Conflict("An authenticator is already active."));
    }
    let secret = totp::new_secret().map_err(AuthError::internal)?;
    let generator = totp::generator(&secret, &state.tokens.totp_issuer, &user.email)
        .map_err(AuthError::internal)?;
    sqlx::query(
        "INSERT INTO mfa_totp (user_id, secret) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = 0",
    )
    .bind(claims.sub)
    .bind(&secret)
    .execute(&state.db)
    .await?;
    Ok(Json(TotpSetup {
        otpauth_uri: generator.get_url(),
        secret,
    }))
}

/// Activates the authenticator with a first code; returns ten one-time recovery codes.
#[utoipa::path(post, path = "/auth/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])),
    request_body = TotpCode,
    responses(
        (status = 200, description = "Active; the recovery codes", body = RecoveryCodes),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No enrolment was started", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already active", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong code", body = Problem, content_type = "application/problem+json")))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Account { claims, .. }: Account,
    JsonBody(request): JsonBody<TotpCode>,
) -> Result<Json<RecoveryCodes>, AuthError> {
    let row: Option<(String, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT secret, confirmed_at FROM mfa_totp WHERE user_id = $1")
            .bind(claims.sub)
            .fetch_optional(&state.db)
            .await?;
    let (secret, confirmed_at) = row.ok_or(AuthError::NotFound("TOTP enrolment"))?;
    if confirmed_at.is_some() {
        return Err(AuthError::Conflict("An authenticator is already active."));
    }
    let generator =
        totp::generator(&secret, &state.tokens.totp_issuer, "user").map_err(AuthError::internal)?;
    let step = totp::matching_step(&generator, &request.code, now(), 0).ok_or_else(|| {
        AuthError::Validation(vec![FieldError::new(
            "code",
            "is not the authenticator's current code",
        )])
    })?;
    let codes = totp::recovery_codes().map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    sqlx::query("UPDATE mfa_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1")
        .bind(claims.sub)
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .execute(&mut *transaction)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(claims.sub)
        .execute(&mut *transaction)
        .await?;
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(claims.sub)
            .bind(sha256(&totp::normalise_recovery_code(code)))
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Completes an MFA login. A code is accepted once; wrong codes count as failed attempts.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "mfa",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 401, description = "Wrong, used or expired challenge or code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of code and recovery_code", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "The account is locked", body = Problem, content_type = "application/problem+json")))]
pub async fn verify_mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<impl IntoResponse, AuthError> {
    if request.code.is_some() == request.recovery_code.is_some() {
        return Err(AuthError::Validation(vec![FieldError::new(
            "code",
            "send either code or recovery_code",
        )]));
    }
    let user: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM mfa_challenges WHERE id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(request.challenge)
    .fetch_optional(&state.db)
    .await?;
    let user = users::find_by_id(&state.db, user.ok_or(AuthError::InvalidCredentials)?)
        .await?
        .ok_or(AuthError::InvalidCredentials)?;
    if let Some(retry_after) =
        lockout::throttled(&state.db, &user.email, &client.ip, &state.lockout).await?
    {
        lockout::audit(
            &state.db,
            Some(user.id),
            &user.email,
            &client.ip,
            client.device.as_deref(),
            Outcome::Throttled,
        )
        .await?;
        return Err(AuthError::TooManyAttempts { retry_after });
    }
    let accepted = match (&request.code, &request.recovery_code) {
        (Some(code), _) => accept_totp(&state, user.id, code).await?,
        (_, Some(code)) => accept_recovery_code(&state, user.id, code).await?,
        _ => false,
    };
    if !accepted {
        lockout::audit(
            &state.db,
            Some(user.id),
            &user.email,
            &client.ip,
            client.device.as_deref(),
            Outcome::WrongCode,
        )
        .await?;
        return Err(AuthError::InvalidCredentials);
    }
    let consumed =
        sqlx::query("UPDATE mfa_challenges SET used_at = now() WHERE id = $1 AND used_at IS NULL")
            .bind(request.challenge)
            .execute(&state.db)
            .await?;
    if consumed.rows_affected() == 0 {
        return Err(AuthError::InvalidCredentials);
    }
    lockout::reset(&state.db, user.id).await?;
    let tokens = sessions::start(&state, user.id, &client).await?;
    lockout::audit(
        &state.db,
        Some(user.id),
        &user.email,
        &client.ip,
        client.device.as_deref(),
        Outcome::Success,
    )
    .await?;
    Ok(Json(tokens))
}

/// Opens a challenge for `user`, who has passed the password check.
pub async fn open_challenge(
    state: &AppState,
    user: Uuid,
    client: &ClientInfo,
) -> Result<MfaRequired, AuthError> {
    let challenge = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO mfa_challenges (id, user_id, ip, device, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(challenge)
    .bind(user)
    .bind(&client.ip)
    .bind(client.device.as_deref())
    .bind(state.tokens.mfa_challenge_ttl.as_secs_f64())
    .execute(&state.db)
    .await?;
    Ok(MfaRequired {
        mfa_required: true,
        challenge,
        expires_in: state.tokens.mfa_challenge_ttl.as_secs(),
    })
}

/// Checks a TOTP code and, atomically, moves the last used step past it.
async fn accept_totp(state: &AppState, user: Uuid, code: &str) -> Result<bool, AuthError> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT secret, last_step FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user)
    .fetch_optional(&state.db)
    .await?;
    let Some((secret, last_step)) = row else {
        return Ok(false);
    };
    let generator =
        totp::generator(&secret, &state.tokens.totp_issuer, "user").map_err(AuthError::internal)?;
    let Some(step) = totp::matching_step(
        &generator,
        code,
        now(),
        u64::try_from(last_step).unwrap_or(0),
    ) else {
        return Ok(false);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let updated =
        sqlx::query("UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(user)
            .bind(step)
            .execute(&state.db)
            .await?;
    Ok(updated.rows_affected() == 1)
}

async fn accept_recovery_code(state: &AppState, user: Uuid, code: &str) -> Result<bool, AuthError> {
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user)
    .bind(sha256(&totp::normalise_recovery_code(code)))
    .execute(&state.db)
    .await?;
    Ok(used.rows_affected() == 1)
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}
