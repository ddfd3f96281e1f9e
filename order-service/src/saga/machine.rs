//! The order saga as a state machine, free of storage and messaging: given where a saga
//! stands and how its current step ended, where it goes next.
//!
//! Forward steps run in order: authorize the payment, create the shipment, capture the
//! payment. A step that fails, or stays silent through every attempt, starts the
//! compensations of the steps before it, newest first; a silent step is in doubt, so its own
//! compensation runs too (each participant accepts a compensation that overtakes the step
//! it undoes, and then refuses the late step). Compensations are retried until they answer.

pub use super::step::{FORWARD, Step};

/// Where the saga is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaState {
    /// Forward steps under way.
    Running,
    /// Undoing what was done.
    Compensating,
    /// Every step done: the order is confirmed.
    Completed,
    /// Everything undone: the order is rejected or cancelled.
    Compensated,
    /// A compensation was refused: an operator must look.
    Failed,
}

impl SagaState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating => "compensating",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
            Self::Failed => "failed",
        }
    }

    /// Every state.
    pub const ALL: [Self; 5] = [
        Self::Running,
        Self::Compensating,
        Self::Completed,
        Self::Compensated,
        Self::Failed,
    ];

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// Whether steps still run.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Compensating)
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
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Send the current step's command again: its next attempt.
    Retry,
    /// The current step is over; start this one.
    Start(Step),
    /// The saga is over (`Completed`, `Compensated` or `Failed`).
    Finish,
}

/// A saga's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saga {
    pub state: SagaState,
    /// The step under way, or the last one once finished.
    pub step: Step,
    /// The current step's attempt, from 1.
    pub attempt: u32,
    /// The customer asked to cancel; honoured when the current step ends.
    pub cancel_requested: bool,
    /// Compensations to run after the current one, in order.
    pub pending: Vec<Step>,
    /// How the order ends once the saga is over.
    pub ending: Option<Ending>,
    /// Why it compensates, or why it failed.
    pub reason: Option<String>,
}

impl Saga {
    /// A new saga, at its first step.
    pub fn new() -> Self {
        Self {
            state: SagaState::Running,
            step: FORWARD[0],
            attempt: 1,
            cancel_requested: false,
            pending: Vec::new(),
            ending: None,
            reason: None,
        }
    }

    /// Applies how the current step's attempt ended. `settled` are the forward steps that
    /// succeeded before it. Forward steps get `attempts` attempts; compensations as many as
    /// they need.
    pub fn apply(&mut self, outcome: &Outcome, settled: &[Step], attempts: u32) -> Transition {
        match (self.state, outcome) {
            (SagaState::Running, Outcome::TimedOut)
                if self.attempt < attempts && !self.cancel_requested =>
            {
                self.attempt += 1;
                Transition::Retry
            }
            (SagaState::Running, Outcome::Succeeded) if !self.cancel_requested => {
                let next = FORWARD.iter().skip_while(|step| **step != self.step).nth(1);
                match next {
                    Some(next) => self.start(*next),
                    None => {
                        self.state = SagaState::Completed;
                        self.ending = Some(Ending::Confirmed);
                        Transition::Finish
                    }
                }
            }
            (SagaState::Running, outcome) => {
                let mut undo = settled.to_vec();
                let (ending, reason) = match outcome {
                    Outcome::Failed(reason) if self.step == Step::AuthorizePayment => {
                        (Ending::Rejected, format!("payment declined: {reason}"))
                    }
                    Outcome::Failed(reason) => {
                        (Ending::Cancelled, format!("{} failed: {reason}", self.step))
                    }
                    Outcome::TimedOut if self.cancel_requested => {
                        undo.push(self.step);
                        (Ending::Cancelled, "cancelled by the customer".to_owned())
                    }
                    Outcome::TimedOut => {
                        undo.push(self.step);
                        let tries = self.attempt;
                        (
                            Ending::Cancelled,
                            format!("{} got no answer in {tries} attempts", self.step),
                        )
                    }
                    Outcome::Succeeded => {
                        undo.push(self.step);
                        (Ending::Cancelled, "cancelled by the customer".to_owned())
                    }
                };
                self.compensate(&undo, ending, reason)
            }
            (SagaState::Compensating, Outcome::Succeeded) => self.next_compensation(),
            (SagaState::Compensating, Outcome::TimedOut) => {
                self.attempt += 1;
                Transition::Retry
            }
            (SagaState::Compensating, Outcome::Failed(reason)) => {
                self.state = SagaState::Failed;
                self.reason = Some(format!("{} refused: {reason}", self.step));
                Transition::Finish
            }
            (SagaState::Completed | SagaState::Compensated | SagaState::Failed, _) => {
                Transition::Finish
            }
        }
    }

    /// The customer cancels. While steps run, the cancellation waits for the current step
    /// to end (`None`); once the saga completed, every step is undone from now.
    pub fn cancel(&mut self) -> Option<Transition> {
        match self.state {
            SagaState::Running => {
                self.cancel_requested = true;
                None
            }
            SagaState::Completed => {
                self.cancel_requested = true;
                Some(self.compensate(
                    &FORWARD,
                    Ending::Cancelled,
                    "cancelled by the customer".into(),
                ))
            }
            SagaState::Compensating | SagaState::Compensated | SagaState::Failed => None,
        }
    }

    fn start(&mut self, step: Step) -> Transition {
        self.step = step;
        self.attempt = 1;
        Transition::Start(step)
    }

    fn compensate(&mut self, undo: &[Step], ending: Ending, reason: String) -> Transition {
        self.state = SagaState::Compensating;
        self.ending = Some(ending);
        self.reason = Some(reason);
        self.pending = undo
            .iter()
            .rev()
            .filter_map(|step| step.compensation())
            .collect();
        self.next_compensation()
    }

    fn next_compensation(&mut self) -> Transition {
        if self.pending.is_empty() {
            self.state = SagaState::Compensated;
            return Transition::Finish;
        }
        let next = self.pending.remove(0);
        self.start(next)
    }
}

impl Default for Saga {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
