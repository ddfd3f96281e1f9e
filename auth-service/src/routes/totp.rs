//! The account's own TOTP settings: enrol, confirm, turn off, and new recovery codes. Each
//! change asks for the password again.

use axum::{Json, extract::State, http::StatusCode};
use messaging::contracts::event;
use serde::{Deserialize, Serialize};
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;

use super::mfa::SecondFactor;
use crate::{
    account::Account,
    account_events,
    attempt::Attempt,
    client::ClientInfo,
    error::AuthError,
    state::AppState,
    store::{
        lockout::Outcome,
        mfa,
        revocations::{self, Revocation},
    },
    totp, totp_secret,
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

/// The account's password, asked again before a change to how it signs in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUp {
    #[schema(format = Password)]
    pub password: String,
}

/// Turning the second factor off: the password, and a code or a recovery code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotp {
    #[schema(format = Password)]
    pub password: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// Starts TOTP enrolment: a new secret, inactive until confirmed with a code. The password
/// is asked again, so that a stolen access token cannot enrol the thief's authenticator.
#[utoipa::path(post, path = "/auth/mfa/totp/setup", tag = "mfa", security(("bearer" = [])),
    request_body = StepUp,
    responses(
        (status = 200, description = "The secret", body = TotpSetup),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator is already active", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn set_up_totp(
    State(state): State<AppState>,
    account: Account,
    client: ClientInfo,
    JsonBody(step_up): JsonBody<StepUp>,
) -> Result<Json<TotpSetup>, AuthError> {
    let user = account
        .confirm_password(&state, &client, step_up.password)
        .await?;
    if let Some((_, Some(_))) = mfa::enrolment(&state.db, user.id).await? {
        return Err(AuthError::Conflict("An authenticator is already active."));
    }
    let secret = totp::new_secret().map_err(AuthError::internal)?;
    let generator = totp::generator(&secret, &state.tokens.totp_issuer, &user.email)
        .map_err(AuthError::internal)?;
    let sealed = totp_secret::seal(&state.sealer, user.id, &secret)?;
    mfa::begin_enrolment(&state.db, user.id, &sealed).await?;
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
    let (stored, confirmed_at) = mfa::enrolment(&state.db, claims.sub)
        .await?
        .ok_or(AuthError::NotFound("TOTP enrolment"))?;
    if confirmed_at.is_some() {
        return Err(AuthError::Conflict("An authenticator is already active."));
    }
    let secret = totp_secret::open(&state.sealer, claims.sub, stored)?;
    let generator =
        totp::generator(&secret, &state.tokens.totp_issuer, "user").map_err(AuthError::internal)?;
    let step = totp::matching_step(&generator, &request.code, totp::now(), 0).ok_or_else(|| {
        AuthError::Validation(vec![FieldError::new(
            "code",
            "is not the authenticator's current code",
        )])
    })?;
    let codes = totp::recovery_codes().map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    mfa::activate(
        &mut transaction,
        claims.sub,
        i64::try_from(step).unwrap_or(i64::MAX),
    )
    .await?;
    mfa::replace_recovery_codes(&mut transaction, claims.sub, &hashed(&state, &codes)).await?;
    transaction.commit().await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turns the second factor off: the password and a current code (or a recovery code) are
/// both needed. The owner is told through an `account.mfa_disabled` event, and the
/// account's other sessions are revoked.
#[utoipa::path(post, path = "/auth/mfa/totp/disable", tag = "mfa", security(("bearer" = [])),
    request_body = DisableTotp,
    responses(
        (status = 204, description = "Turned off; the recovery codes are void"),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active authenticator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of code and recovery_code, or the one sent is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn disable_totp(
    State(state): State<AppState>,
    account: Account,
    client: ClientInfo,
    JsonBody(request): JsonBody<DisableTotp>,
) -> Result<StatusCode, AuthError> {
    let factor = SecondFactor::of(request.code, request.recovery_code)?;
    let user = account
        .confirm_password(&state, &client, request.password)
        .await?;
    if mfa::active_secret(&state.db, user.id).await?.is_none() {
        return Err(AuthError::NotFound("active authenticator"));
    }
    if !factor.accept(&state, user.id).await? {
        let attempt = Attempt {
            db: &state.db,
            email: &user.email,
            client: &client,
        };
        attempt.record(Some(user.id), Outcome::WrongCode).await?;
        return Err(AuthError::Validation(vec![FieldError::new(
            factor.field(),
            "is not right, or was used already",
        )]));
    }
    let mut transaction = state.db.begin().await?;
    mfa::disable(&mut transaction, user.id).await?;
    // Sessions opened with the factor elsewhere end with it; this one stays.
    let revocation = Revocation::of(&state, user.id, "mfa_disabled");
    revocations::revoke_all(&mut transaction, revocation, Some(account.claims.sid)).await?;
    account_events::announce(
        &mut transaction,
        event::MFA_DISABLED,
        &user,
        "disabled_by_owner",
    )
    .await?;
    transaction.commit().await?;
    state.outbox.committed();
    tracing::info!(user = %user.id, "second factor turned off");
    Ok(StatusCode::NO_CONTENT)
}

/// Ten new recovery codes in place of the old ones, which stop working at once.
#[utoipa::path(post, path = "/auth/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])),
    request_body = StepUp,
    responses(
        (status = 200, description = "The new recovery codes, shown once", body = RecoveryCodes),
        (status = 401, description = "No valid token, or its session ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active authenticator", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    account: Account,
    client: ClientInfo,
    JsonBody(step_up): JsonBody<StepUp>,
) -> Result<Json<RecoveryCodes>, AuthError> {
    let user = account
        .confirm_password(&state, &client, step_up.password)
        .await?;
    if mfa::active_secret(&state.db, user.id).await?.is_none() {
        return Err(AuthError::NotFound("active authenticator"));
    }
    let codes = totp::recovery_codes().map_err(AuthError::internal)?;
    let mut transaction = state.db.begin().await?;
    mfa::replace_recovery_codes(&mut transaction, user.id, &hashed(&state, &codes)).await?;
    transaction.commit().await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

fn hashed(state: &AppState, codes: &[String]) -> Vec<Vec<u8>> {
    codes
        .iter()
        .map(|code| state.code_key.hash(&totp::normalise_recovery_code(code)))
        .collect()
}
