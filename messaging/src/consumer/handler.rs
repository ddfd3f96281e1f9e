//! What a consuming service implements, and how it says a message could not be applied.

use std::future::Future;

use sqlx::PgConnection;

use crate::{envelope::Envelope, outbox::Outbox};

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
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Self::Retry(format!("database: {err}"))
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
