//! What an earlier version stored unprotected, protected at start-up: recovery codes hashed
//! without a key are keyed, and TOTP secrets in the clear are sealed.

use uuid::Uuid;

use crate::{error::AuthError, state::AppState, totp_secret};

/// Keys the recovery codes stored as bare SHA-256 and seals the TOTP secrets stored in the
/// clear. Each keeps working.
pub async fn protect(state: &AppState) -> Result<(), AuthError> {
    key_recovery_codes(state).await?;
    seal_totp_secrets(state).await
}

async fn key_recovery_codes(state: &AppState) -> sqlx::Result<()> {
    let unkeyed: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT user_id, code_hash FROM recovery_codes WHERE NOT keyed")
            .fetch_all(&state.db)
            .await?;
    for (user, hash) in &unkeyed {
        sqlx::query(
            "UPDATE recovery_codes SET code_hash = $3, keyed = true
             WHERE user_id = $1 AND code_hash = $2 AND NOT keyed",
        )
        .bind(user)
        .bind(hash)
        .bind(state.code_key.rekey(hash))
        .execute(&state.db)
        .await?;
    }
    if !unkeyed.is_empty() {
        tracing::info!(
            codes = unkeyed.len(),
            "recovery codes stored unkeyed are keyed"
        );
    }
    Ok(())
}

async fn seal_totp_secrets(state: &AppState) -> Result<(), AuthError> {
    let clear: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT user_id, secret FROM mfa_totp WHERE sealed_secret IS NULL AND secret IS NOT NULL",
    )
    .fetch_all(&state.db)
    .await?;
    for (user, secret) in &clear {
        sqlx::query(
            "UPDATE mfa_totp SET sealed_secret = $3, secret = NULL
             WHERE user_id = $1 AND secret = $2 AND sealed_secret IS NULL",
        )
        .bind(user)
        .bind(secret)
        .bind(totp_secret::seal(&state.sealer, *user, secret)?)
        .execute(&state.db)
        .await?;
    }
    if !clear.is_empty() {
        tracing::info!(
            secrets = clear.len(),
            "TOTP secrets stored in the clear are sealed"
        );
    }
    Ok(())
}
