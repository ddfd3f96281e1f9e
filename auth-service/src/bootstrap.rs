//! The first administrator, from `ADMIN_EMAIL`: created at start-up only if no account uses
//! the email. Registration does not prove that an address is one's own, so an account that
//! holds the email already is never promoted: it may be anyone's.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use shared::{auth::Role, server::StartupError};

use crate::{
    config::AdminArgs,
    domain::{NewUser, RegisterRequest},
    state::AppState,
    store::users,
};

/// Creates the configured administrator if no account has the email. With no password
/// configured, a generated one is written to the log once and must be changed at the first
/// sign-in.
pub async fn ensure_admin(state: &AppState, admin: &AdminArgs) -> Result<(), StartupError> {
    let Some(email) = &admin.admin_email else {
        return Ok(());
    };
    let invalid = |message: String| StartupError::Store {
        store: "admin account",
        message,
    };
    let database = |err: sqlx::Error| invalid(err.to_string());
    let configured = admin.admin_password.clone().filter(|p| !p.is_empty());
    let password = match &configured {
        Some(password) => password.clone(),
        None => generate_password().map_err(invalid)?,
    };
    let user = NewUser::parse(RegisterRequest {
        email: email.clone(),
        password: password.clone(),
        display_name: "Administrator".to_owned(),
        role: None,
    })
    .map_err(|errors| {
        invalid(
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.detail))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    if let Some(existing) = users::find_by_email(&state.db, &user.email)
        .await
        .map_err(database)?
    {
        return judge_existing(state, &user.email, existing.id).await;
    }
    let hash = state
        .hasher
        .hash_blocking(user.password)
        .await
        .map_err(invalid)?;
    let mut transaction = state.db.begin().await.map_err(database)?;
    let inserted = users::insert(
        &mut transaction,
        &user.email,
        &user.display_name,
        &hash,
        None,
    )
    .await;
    let id = match inserted {
        Ok((id, _)) => id,
        // Another instance created it a moment ago.
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            return Ok(());
        }
        Err(err) => return Err(database(err)),
    };
    users::grant(&mut transaction, id, Role::Admin, None)
        .await
        .map_err(database)?;
    if configured.is_none() {
        users::require_password_change(&mut transaction, id)
            .await
            .map_err(database)?;
    }
    transaction.commit().await.map_err(database)?;
    if configured.is_none() {
        tracing::warn!(
            email = %user.email,
            "administrator created with the generated password `{password}`: it is shown \
             this once and must be changed at the first sign-in"
        );
    } else {
        tracing::info!(email = %user.email, "administrator created");
    }
    Ok(())
}

async fn judge_existing(state: &AppState, email: &str, id: uuid::Uuid) -> Result<(), StartupError> {
    let roles = users::roles_of(&state.db, id)
        .await
        .map_err(|err| StartupError::Store {
            store: "admin account",
            message: err.to_string(),
        })?;
    if roles.contains(&Role::Admin) {
        tracing::info!(%email, "administrator exists");
    } else {
        tracing::error!(
            %email,
            "ADMIN_EMAIL belongs to an account that is not an administrator: it is left as \
             it is and no administrator is created; choose an unused ADMIN_EMAIL"
        );
    }
    Ok(())
}

/// 144 random bits, base64url: 24 characters.
pub(crate) fn generate_password() -> Result<String, String> {
    let mut bytes = [0_u8; 18];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness".to_owned())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_distinct_and_pass_the_policy() {
        let first = generate_password().expect("a password");
        let second = generate_password().expect("a password");
        assert_eq!(first.len(), 24);
        assert_ne!(first, second);
        assert!(crate::domain::check_password(&first, "admin@example.com").is_ok());
    }
}
