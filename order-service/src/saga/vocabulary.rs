//! The words of the saga's state machine: where a saga stands, how the order ends, how a
//! step ended, and what was left undone.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::step::Step;

/// Where the saga is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaState {
    /// Forward steps under way; the order is `PENDING`.
    Running,
    /// Undoing what was done before the pivot.
    Compensating,
    /// Every step done: the order is confirmed.
    Completed,
    /// A confirmed order's cancellation under way.
    Cancelling,
    /// Everything undone: the order is rejected or cancelled.
    Compensated,
    /// A compensation was refused or given up on: an operator must look.
    Failed,
    /// An operator saw to a failed saga by hand.
    Resolved,
}

impl SagaState {
    /// Every state.
    pub const ALL: [Self; 7] = [
        Self::Running,
        Self::Compensating,
        Self::Completed,
        Self::Cancelling,
        Self::Compensated,
        Self::Failed,
        Self::Resolved,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating => "compensating",
            Self::Completed => "completed",
            Self::Cancelling => "cancelling",
            Self::Compensated => "compensated",
            Self::Failed => "failed",
            Self::Resolved => "resolved",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// Whether steps still run.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Compensating | Self::Cancelling)
    }
}

/// How the order ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Confirmed,
    /// The payment was declined.
    Rejected,
    Cancelled,
}

impl Ending {
    /// The order status it leads to.
    pub fn status(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The ending whose status is `status`.
    pub fn parse(status: &str) -> Option<Self> {
        [Self::Confirmed, Self::Rejected, Self::Cancelled]
            .into_iter()
            .find(|ending| ending.status() == status)
    }
}

/// How the current step's attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// The participant refused, with its reason.
    Failed(String),
    /// No answer within the attempt's time.
    TimedOut,
    /// The command or its answer was given up on (dead-lettered), with why.
    Faulted(String),
}

impl Outcome {
    /// As the step log names it, and its detail.
    pub fn logged(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Succeeded => ("succeeded", None),
            Self::Failed(reason) => ("failed", Some(reason)),
            Self::TimedOut => ("timed_out", Some("no answer")),
            Self::Faulted(reason) => ("faulted", Some(reason)),
        }
    }
}

/// A compensation refused or given up on, and why: the saga went on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unresolved {
    #[serde(with = "step_name")]
    pub step: Step,
    pub reason: String,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.reason)
    }
}

/// A step as its stored name.
mod step_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Step;

    pub fn serialize<S: Serializer>(step: &Step, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(step.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Step, D::Error> {
        let name = String::deserialize(deserializer)?;
        Step::parse(&name).ok_or_else(|| D::Error::custom(format!("unknown step {name}")))
    }
}
