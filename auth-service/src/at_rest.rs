//! What an earlier version stored unprotected, protected at start-up: recovery codes hashed
//! without a key are keyed.

use uuid::Uuid;

use crate::state::AppState;

/// Keys the recovery codes stored as bare SHA-256. Each keeps working.
pub async fn protect(state: &AppState) -> sqlx::Result<()> {
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
