//! One attempt to prove who one is (a sign-in, a second factor, a password asked again),
//! audited and held back alike wherever it is made.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    client::ClientInfo,
    config::LockoutArgs,
    error::AuthError,
    store::lockout::{self, Outcome},
};

/// An attempt on `email`'s account from `client`.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub db: &'a PgPool,
    pub email: &'a str,
    pub client: &'a ClientInfo,
}

impl Attempt<'_> {
    /// Writes how it ended to the audit log, for the account `user` when it is known.
    pub async fn record(&self, user: Option<Uuid>, outcome: Outcome) -> sqlx::Result<()> {
        lockout::audit(
            self.db,
            user,
            self.email,
            &self.client.ip,
            self.client.device.as_deref(),
            outcome,
        )
        .await
    }

    /// 429 (recorded as throttled) when this client, or everyone, is held back from the
    /// account after too many failures.
    pub async fn admit(&self, user: Option<Uuid>, settings: &LockoutArgs) -> Result<(), AuthError> {
        match lockout::throttled(self.db, self.email, &self.client.ip, settings).await? {
            Some(retry_after) => {
                self.record(user, Outcome::Throttled).await?;
                Err(AuthError::TooManyAttempts { retry_after })
            }
            None => Ok(()),
        }
    }
}
