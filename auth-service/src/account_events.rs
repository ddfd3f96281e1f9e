//! Changes to how an account signs in, announced on the outbox so that its owner can be
//! told of them.

use messaging::{Message, contracts::AccountSecurityEvent, outbox};
use sqlx::PgConnection;

use crate::store::users::UserRecord;

/// Writes the event `kind` (`account.password_changed`, `account.mfa_disabled`) about
/// `user`, within the transaction that makes the change; `how` says how it came about.
pub async fn announce(
    connection: &mut PgConnection,
    kind: &'static str,
    user: &UserRecord,
    how: &str,
) -> sqlx::Result<()> {
    let event = AccountSecurityEvent {
        user_id: user.id,
        email: user.email.clone(),
        how: how.to_owned(),
    };
    outbox::enqueue(connection, &Message::event(kind, user.id, event))
        .await
        .map(drop)
}
