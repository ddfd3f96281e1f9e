//! The order saga as a state machine, free of storage and messaging: given where a saga
//! stands and how its current step ended, where it goes next.
//!
//! Forward steps run in order: authorize the payment, create the shipment (its courier
//! reserved, the shipment held), capture the payment: the pivot. Before the pivot every
//! step can be undone; once it passes, the order is confirmed and the shipment released.
//! A step that fails, or stays silent through every attempt, starts the compensations of
//! the steps before it, newest first; a silent step is in doubt, so its own compensation
//! runs too (each participant accepts a compensation that overtakes the step it undoes, and
//! then refuses the late step). Compensations are retried until they answer; one that is
//! refused or given up on is recorded and the others still run.
//!
//! A confirmed order's cancellation is a saga of its own: first the step that may be
//! refused (the shipment's cancel, refused once the courier has the food, and then the
//! order goes on), then the order is cancelled, then the refund, retried until it answers.

pub use super::step::{FORWARD, Step};
pub use super::vocabulary::{Ending, Outcome, SagaState, Unresolved};

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Send the current step's command again: its next attempt.
    Retry,
    /// The current step is over; start this one.
    Start(Step),
    /// The shipment is called off: the order is cancelled now, then this step (the refund).
    Cancelled(Step),
    /// The cancellation was refused: the order goes on as it was.
    Resumed,
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
    /// The customer asked to cancel.
    pub cancel_requested: bool,
    /// Steps to run after the current one, in order.
    pub pending: Vec<Step>,
    /// How the order ends once the saga is over.
    pub ending: Option<Ending>,
    /// Why it compensates, or why it failed.
    pub reason: Option<String>,
    /// Compensations refused or given up on: what an operator must see to.
    pub unresolved: Vec<Unresolved>,
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
            unresolved: Vec::new(),
        }
    }

    /// Applies how the current step's attempt ended. Forward steps get `attempts`
    /// attempts; every other step as many as it needs.
    pub fn apply(&mut self, outcome: &Outcome, attempts: u32) -> Transition {
        match self.state {
            SagaState::Running => self.forward(outcome, attempts),
            SagaState::Compensating => match outcome {
                Outcome::Succeeded => self.next_compensation(),
                Outcome::TimedOut => self.retry(),
                Outcome::Failed(reason) | Outcome::Faulted(reason) => {
                    self.give_up(reason);
                    self.next_compensation()
                }
            },
            SagaState::Cancelling => self.cancelling(outcome),
            SagaState::Completed
            | SagaState::Compensated
            | SagaState::Failed
            | SagaState::Resolved => Transition::Finish,
        }
    }

    fn forward(&mut self, outcome: &Outcome, attempts: u32) -> Transition {
        let step = self.step;
        // Forward steps advance only on success, so those before the current one are done.
        let mut undo: Vec<Step> = FORWARD
            .iter()
            .take_while(|s| **s != step)
            .copied()
            .collect();
        let (ending, reason) = match outcome {
            Outcome::TimedOut if self.attempt < attempts && !self.cancel_requested => {
                return self.retry();
            }
            Outcome::Succeeded if !self.cancel_requested => {
                return match FORWARD.iter().skip_while(|s| **s != step).nth(1) {
                    Some(next) => self.start(*next),
                    None => {
                        self.state = SagaState::Completed;
                        self.ending = Some(Ending::Confirmed);
                        Transition::Finish
                    }
                };
            }
            Outcome::Failed(reason) if step == Step::AuthorizePayment => {
                (Ending::Rejected, format!("payment declined: {reason}"))
            }
            Outcome::Failed(reason) => (Ending::Cancelled, format!("{step} failed: {reason}")),
            Outcome::Faulted(reason) => {
                undo.push(step);
                (Ending::Cancelled, format!("{step} faulted: {reason}"))
            }
            Outcome::TimedOut if !self.cancel_requested => {
                undo.push(step);
                let tries = self.attempt;
                let reason = format!("{step} got no answer in {tries} attempts");
                (Ending::Cancelled, reason)
            }
            Outcome::TimedOut | Outcome::Succeeded => {
                undo.push(step);
                (Ending::Cancelled, "cancelled by the customer".to_owned())
            }
        };
        self.state = SagaState::Compensating;
        self.ending = Some(ending);
        self.reason = Some(reason);
        self.pending = undo.iter().rev().filter_map(|s| s.compensation()).collect();
        self.next_compensation()
    }

    fn cancelling(&mut self, outcome: &Outcome) -> Transition {
        match (self.step, outcome) {
            (_, Outcome::TimedOut) => self.retry(),
            (Step::CancelShipment, Outcome::Succeeded) => {
                let refund = self.take_pending().unwrap_or(Step::RefundPayment);
                self.step = refund;
                self.attempt = 1;
                Transition::Cancelled(refund)
            }
            (Step::CancelShipment, Outcome::Failed(reason) | Outcome::Faulted(reason)) => {
                self.state = SagaState::Completed;
                self.ending = Some(Ending::Confirmed);
                self.cancel_requested = false;
                self.pending.clear();
                self.reason = Some(format!("the cancellation was refused: {reason}"));
                Transition::Resumed
            }
            (_, Outcome::Succeeded) => self.next_compensation(),
            (_, Outcome::Failed(reason) | Outcome::Faulted(reason)) => {
                self.give_up(reason);
                self.next_compensation()
            }
        }
    }

    /// The customer cancels. While forward steps run, the cancellation waits for the current
    /// step to end (`None`); a completed saga starts the cancellation's own steps. Otherwise
    /// there is nothing to do (`None`).
    pub fn cancel(&mut self) -> Option<Transition> {
        match self.state {
            SagaState::Running => {
                self.cancel_requested = true;
                None
            }
            SagaState::Completed => {
                self.state = SagaState::Cancelling;
                self.cancel_requested = true;
                self.ending = Some(Ending::Cancelled);
                self.reason = Some("cancelled by the customer".into());
                self.pending = vec![Step::RefundPayment];
                Some(self.start(Step::CancelShipment))
            }
            _ => None,
        }
    }

    /// An operator sends the unresolved compensations again, in their order.
    pub fn retry_unresolved(&mut self) -> Option<Transition> {
        if self.state != SagaState::Failed {
            return None;
        }
        self.state = SagaState::Compensating;
        self.pending = self.unresolved.drain(..).map(|u| u.step).collect();
        Some(self.next_compensation())
    }

    /// An operator saw to what was left by hand: the saga is over.
    pub fn resolve(&mut self) -> bool {
        if self.state != SagaState::Failed {
            return false;
        }
        self.state = SagaState::Resolved;
        true
    }

    fn retry(&mut self) -> Transition {
        self.attempt += 1;
        Transition::Retry
    }

    fn start(&mut self, step: Step) -> Transition {
        self.step = step;
        self.attempt = 1;
        Transition::Start(step)
    }

    fn take_pending(&mut self) -> Option<Step> {
        (!self.pending.is_empty()).then(|| self.pending.remove(0))
    }

    fn give_up(&mut self, reason: &str) {
        self.unresolved.push(Unresolved {
            step: self.step,
            reason: reason.to_owned(),
        });
    }

    fn next_compensation(&mut self) -> Transition {
        if let Some(next) = self.take_pending() {
            return self.start(next);
        }
        if self.unresolved.is_empty() {
            self.state = SagaState::Compensated;
        } else {
            self.state = SagaState::Failed;
            let left: Vec<String> = self.unresolved.iter().map(ToString::to_string).collect();
            self.reason = Some(format!("left for an operator: {}", left.join("; ")));
        }
        Transition::Finish
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
