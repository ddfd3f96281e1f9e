//! The provisioning account: an administrator no person signs in to, whose token auth-service
//! writes to `PROVISIONING_TOKEN_FILE` at each start for one program to read (compose's demo
//! data seed, through a volume only the two share). So a stack that ships no administrator's
//! password, and makes administrators enrol a second factor, can still be seeded: the token
//! never leaves the machine, lasts one access token's lifetime, and belongs to a session that
//! can be revoked like any other.

use std::path::Path;

use shared::{auth::Role, server::StartupError};

use crate::{bootstrap, client::ClientInfo, state::AppState, store::sessions, store::users};

/// The provisioning account's email.
pub const EMAIL: &str = "provisioning@food-delivery.internal";

/// Creates the provisioning account if need be, opens a session for it and writes its access
/// token to `file` (readable by its owner alone).
pub async fn write_token(state: &AppState, file: &Path) -> Result<(), StartupError> {
    let failed = |message: String| StartupError::Store {
        store: "provisioning account",
        message,
    };
    let account = match users::find_by_email(&state.db, EMAIL)
        .await
        .map_err(|err| failed(err.to_string()))?
    {
        Some(existing) => existing.id,
        None => create(state).await.map_err(failed)?,
    };
    let client = ClientInfo {
        ip: "127.0.0.1".to_owned(),
        device: Some("provisioning token file".to_owned()),
    };
    let tokens = sessions::start(state, account, &client)
        .await
        .map_err(|err| failed(err.to_string()))?;
    write_private(file, &tokens.access_token)
        .map_err(|err| failed(format!("{}: {err}", file.display())))?;
    tracing::info!(file = %file.display(), "provisioning token written");
    Ok(())
}

async fn create(state: &AppState) -> Result<uuid::Uuid, String> {
    // A password nobody is told: the account is reached through the token file alone.
    let password = bootstrap::generate_password()?;
    let hash = state.hasher.hash_blocking(password).await?;
    let mut transaction = state.db.begin().await.map_err(|err| err.to_string())?;
    let created = users::insert(&mut transaction, EMAIL, "Provisioning", &hash, None).await;
    let id = match created {
        Ok((id, _)) => id,
        Err(err) => return Err(err.to_string()),
    };
    users::grant(&mut transaction, id, Role::Admin, None)
        .await
        .map_err(|err| err.to_string())?;
    users::mark_service_account(&mut transaction, id)
        .await
        .map_err(|err| err.to_string())?;
    transaction.commit().await.map_err(|err| err.to_string())?;
    tracing::info!(email = EMAIL, "provisioning account created");
    Ok(id)
}

/// Writes `text` to `file` through a temporary file renamed over it, mode 0600.
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    let temporary = file.with_extension("partial");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&temporary, file)
}
