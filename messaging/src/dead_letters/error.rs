//! Why an operation on dead letters did not happen, and how HTTP answers it.

use shared::Problem;

use super::SEARCH_LIMIT;
use crate::{answer::AnswerError, connection::AmqpError};

/// Why an operation on dead letters did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// No message with that id among the first [`SEARCH_LIMIT`] of the dead-letter queue.
    #[error("no dead letter `{message_id}` is in `{queue}`")]
    NotFound {
        /// The id asked for.
        message_id: String,
        /// The dead-letter queue looked through, as named on the broker.
        queue: String,
    },
    /// The broker is not connected at the moment.
    #[error("the broker is not connected")]
    NotConnected,
    /// The broker did not confirm the replayed copy; the dead letter is kept.
    #[error("the broker did not take the replayed message")]
    NotReplayed,
    /// The broker refused or dropped the channel.
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    /// The dead letter's acknowledgement may not have reached the broker.
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

impl From<AmqpError> for DeadLetterError {
    fn from(err: AmqpError) -> Self {
        match err {
            AmqpError::NotConnected => Self::NotConnected,
            AmqpError::Lapin(err) => Self::Broker(err),
        }
    }
}

/// 404 for an unknown message, 503 for the broker; its own errors are logged here.
impl From<DeadLetterError> for Problem {
    fn from(err: DeadLetterError) -> Self {
        match err {
            DeadLetterError::NotFound { message_id, queue } => Problem::not_found(format!(
                "No dead letter `{message_id}` is among the first {SEARCH_LIMIT} of `{queue}`."
            )),
            DeadLetterError::NotConnected => Problem::unavailable("The broker is not connected."),
            DeadLetterError::NotReplayed => {
                Problem::unavailable("The broker did not take the replayed message; it is kept.")
            }
            DeadLetterError::Broker(err) => unfinished(&err),
            DeadLetterError::Answer(err) => unfinished(&err),
        }
    }
}

fn unfinished(err: &dyn std::error::Error) -> Problem {
    tracing::warn!(error = %err, "a dead-letter operation failed on the broker");
    Problem::unavailable("The broker did not complete the operation.")
}
