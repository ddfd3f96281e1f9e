//! What a consuming service implements, and how it says a message could not be applied.

use std::future::Future;

use sqlx::PgConnection;

use crate::{
    envelope::{Envelope, InvalidPayload},
    outbox::Outbox,
};

/// Why a message was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// It may work later (a store is down, what it follows has not arrived yet): it is
    /// tried again after the next delay.
    #[error("{0}")]
    Retry(String),
    /// It can never work (its payload does not fit): it is dead-lettered at once.
    #[error("{0}")]
    Reject(String),
    /// The store that holds its effects cannot be reached: it is tried again after the
    /// longest delay until the store answers, however long that takes, and never
    /// dead-lettered, since nothing is wrong with the message itself.
    #[error("{0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        if unreachable(&err) {
            Self::Unavailable(format!("database unreachable: {err}"))
        } else {
            Self::Retry(format!("database: {err}"))
        }
    }
}

/// A payload that does not fit can never be handled, so it is rejected (dead-lettered at
/// once) rather than retried.
impl From<InvalidPayload> for Failure {
    fn from(err: InvalidPayload) -> Self {
        Self::Reject(err.to_string())
    }
}

/// Whether the database could not be reached at all, as opposed to refusing a statement:
/// no connection in time, a connection lost, or a server shutting down or starting.
fn unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08 is a connection exception; 57P01-57P03 a server going or not yet up.
        sqlx::Error::Database(err) => err.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// What a service does with the messages of its queue.
pub trait Handler: Send + Sync + 'static {
    /// The outbox of the database that holds the message's effects; its processed mark is
    /// written there too, and what the handler enqueues is relayed from there.
    fn outbox(&self, message: &Envelope) -> Result<&Outbox, Failure>;

    /// Applies `message` within `transaction`, which commits with the processed mark when
    /// this succeeds and rolls back otherwise. Messages of unknown types should be accepted
    /// and ignored, so that a new event type does not fill the dead-letter queue.
    fn handle(
        &self,
        transaction: &mut PgConnection,
        message: &Envelope,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Runs after the transaction of `message` committed (to tell live listeners, say).
    fn committed(&self, _message: &Envelope) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_of_the_wrong_shape_is_rejected_not_retried() {
        let invalid = InvalidPayload {
            kind: "payment.authorize".into(),
            reason: "invalid type".into(),
        };
        assert_eq!(
            Failure::from(invalid),
            Failure::Reject("the payload of a payment.authorize is invalid: invalid type".into())
        );
    }
}
