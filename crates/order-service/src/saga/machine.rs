//! The order saga as a state machine, free of storage and messaging: given where a saga
//! stands and how its current step ended, where it goes next.
//!
//! Forward steps run in order: authorize the payment, create the shipment, capture the
//! payment. A step that fails, or stays silent through every attempt, starts the
//! compensations of the steps before it, newest first; a silent step is in doubt, so its own
//! compensation runs too (each participant accepts a compensation that overtakes the step
//! it undoes, and then refuses the late step). Compensations are retried until they answer.

use std::fmt;

use messaging::contracts::{command, reply};

/// One step of the saga: an action or the compensation of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    AuthorizePayment,
    CreateShipment,
    CapturePayment,
    RefundPayment,
    CancelShipment,
    VoidPayment,
}

/// The forward steps, in order.
pub const FORWARD: [Step; 3] = [
    Step::AuthorizePayment,
    Step::CreateShipment,
    Step::CapturePayment,
];

const ALL: [Step; 6] = [
    Step::AuthorizePayment,
    Step::CreateShipment,
    Step::CapturePayment,
    Step::RefundPayment,
    Step::CancelShipment,
    Step::VoidPayment,
];

impl Step {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizePayment => "authorize_payment",
            Self::CreateShipment => "create_shipment",
            Self::CapturePayment => "capture_payment",
            Self::RefundPayment => "refund_payment",
            Self::CancelShipment => "cancel_shipment",
            Self::VoidPayment => "void_payment",
        }
    }

    /// The step stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|step| step.as_str() == name)
    }

    /// Whether it undoes another step.
    pub fn is_compensation(self) -> bool {
        !FORWARD.contains(&self)
    }

    /// What undoes it. Capture's compensation also releases an authorization that was never
    /// captured, so that a capture arriving late finds nothing to take.
    pub fn compensation(self) -> Option<Self> {
        match self {
            Self::AuthorizePayment => Some(Self::VoidPayment),
            Self::CreateShipment => Some(Self::CancelShipment),
            Self::CapturePayment => Some(Self::RefundPayment),
            _ => None,
        }
    }

    /// The command that asks a participant to do it.
    pub fn command(self) -> &'static str {
        match self {
            Self::AuthorizePayment => command::AUTHORIZE_PAYMENT,
            Self::CreateShipment => command::CREATE_SHIPMENT,
            Self::CapturePayment => command::CAPTURE_PAYMENT,
            Self::RefundPayment => command::REFUND_PAYMENT,
            Self::CancelShipment => command::CANCEL_SHIPMENT,
            Self::VoidPayment => command::VOID_PAYMENT,
        }
    }

    /// The step a reply answers, and whether it says the step succeeded.
    pub fn answered_by(reply: &str) -> Option<(Self, bool)> {
        Some(match reply {
            reply::PAYMENT_AUTHORIZED => (Self::AuthorizePayment, true),
            reply::PAYMENT_DECLINED => (Self::AuthorizePayment, false),
            reply::SHIPMENT_CREATED => (Self::CreateShipment, true),
            reply::SHIPMENT_FAILED => (Self::CreateShipment, false),
            reply::PAYMENT_CAPTURED => (Self::CapturePayment, true),
            reply::PAYMENT_CAPTURE_FAILED => (Self::CapturePayment, false),
            reply::PAYMENT_REFUNDED => (Self::RefundPayment, true),
            reply::PAYMENT_REFUND_FAILED => (Self::RefundPayment, false),
            reply::SHIPMENT_CANCELLED => (Self::CancelShipment, true),
            reply::SHIPMENT_CANCEL_FAILED => (Self::CancelShipment, false),
            reply::PAYMENT_VOIDED => (Self::VoidPayment, true),
            reply::PAYMENT_VOID_FAILED => (Self::VoidPayment, false),
            _ => return None,
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Compensating,
            Self::Completed,
            Self::Compensated,
            Self::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
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
mod tests {
    use super::{Outcome::*, Step::*, *};

    const ATTEMPTS: u32 = 3;

    /// Runs `outcomes` from a new saga, each answering the step current at the time; returns
    /// the saga and every step started.
    fn run(outcomes: &[Outcome]) -> (Saga, Vec<Step>) {
        let mut saga = Saga::new();
        let mut settled = Vec::new();
        let mut started = vec![saga.step];
        for outcome in outcomes {
            let step = saga.step;
            let transition = saga.apply(outcome, &settled, ATTEMPTS);
            if *outcome == Succeeded && !step.is_compensation() {
                settled.push(step);
            }
            if let Transition::Start(next) = transition {
                started.push(next);
            }
        }
        (saga, started)
    }

    #[test]
    fn every_step_succeeding_confirms_the_order() {
        let (saga, started) = run(&[Succeeded, Succeeded, Succeeded]);
        assert_eq!(saga.state, SagaState::Completed);
        assert_eq!(saga.ending, Some(Ending::Confirmed));
        assert_eq!(started, FORWARD);
    }

    #[test]
    fn a_declined_payment_rejects_the_order_with_nothing_to_undo() {
        let (saga, started) = run(&[Failed("card_declined".into())]);
        assert_eq!(saga.state, SagaState::Compensated);
        assert_eq!(saga.ending, Some(Ending::Rejected));
        assert_eq!(started, [AuthorizePayment]);
        assert!(
            saga.reason
                .as_deref()
                .is_some_and(|r| r.contains("card_declined"))
        );
    }

    #[test]
    fn no_courier_voids_the_authorization_and_cancels() {
        let (saga, started) = run(&[Succeeded, Failed("no_courier_available".into()), Succeeded]);
        assert_eq!(started, [AuthorizePayment, CreateShipment, VoidPayment]);
        assert_eq!(saga.state, SagaState::Compensated);
        assert_eq!(saga.ending, Some(Ending::Cancelled));
    }

    #[test]
    fn a_failed_capture_cancels_the_shipment_then_voids_newest_first() {
        let (saga, started) = run(&[
            Succeeded,
            Succeeded,
            Failed("capture_failed".into()),
            Succeeded,
            Succeeded,
        ]);
        assert_eq!(
            started,
            [
                AuthorizePayment,
                CreateShipment,
                CapturePayment,
                CancelShipment,
                VoidPayment
            ]
        );
        assert_eq!(saga.state, SagaState::Compensated);
        assert_eq!(saga.ending, Some(Ending::Cancelled));
    }

    #[test]
    fn silence_is_retried_then_treated_as_failure_and_the_silent_step_is_undone_too() {
        let (saga, started) = run(&[Succeeded, TimedOut, TimedOut]);
        assert_eq!(saga.state, SagaState::Running);
        assert_eq!(saga.attempt, 3, "retried twice");
        let (saga, started_after) = run(&[Succeeded, TimedOut, TimedOut, TimedOut]);
        assert_eq!(started, [AuthorizePayment, CreateShipment]);
        assert_eq!(
            started_after,
            [AuthorizePayment, CreateShipment, CancelShipment],
            "the shipment may exist: it is cancelled before the payment is voided"
        );
        assert_eq!(saga.state, SagaState::Compensating);
        assert_eq!(saga.pending, [VoidPayment]);
    }

    #[test]
    fn compensations_are_retried_until_they_answer() {
        let mut saga = Saga::new();
        saga.apply(&Succeeded, &[], ATTEMPTS);
        saga.apply(
            &Failed("no_courier_available".into()),
            &[AuthorizePayment],
            ATTEMPTS,
        );
        for attempt in 2..=10 {
            assert_eq!(
                saga.apply(&TimedOut, &[AuthorizePayment], ATTEMPTS),
                Transition::Retry
            );
            assert_eq!(saga.attempt, attempt);
        }
        assert_eq!(
            saga.apply(&Succeeded, &[AuthorizePayment], ATTEMPTS),
            Transition::Finish
        );
        assert_eq!(saga.state, SagaState::Compensated);
    }

    #[test]
    fn a_cancel_while_running_waits_for_the_step_then_undoes_it() {
        let mut saga = Saga::new();
        assert_eq!(saga.cancel(), None);
        assert_eq!(
            saga.apply(&Succeeded, &[], ATTEMPTS),
            Transition::Start(VoidPayment),
            "the authorization that just succeeded is voided"
        );
        assert_eq!(
            saga.apply(&Succeeded, &[AuthorizePayment], ATTEMPTS),
            Transition::Finish
        );
        assert_eq!(saga.ending, Some(Ending::Cancelled));
    }

    #[test]
    fn a_cancel_stops_retries_of_a_silent_step() {
        let mut saga = Saga::new();
        saga.cancel();
        assert_eq!(
            saga.apply(&TimedOut, &[], ATTEMPTS),
            Transition::Start(VoidPayment)
        );
    }

    #[test]
    fn a_cancel_after_confirmation_refunds_cancels_the_shipment_and_releases_the_rest() {
        let (mut saga, _) = run(&[Succeeded, Succeeded, Succeeded]);
        assert_eq!(saga.cancel(), Some(Transition::Start(RefundPayment)));
        assert_eq!(saga.pending, [CancelShipment, VoidPayment]);
        assert_eq!(saga.state, SagaState::Compensating);
        assert_eq!(saga.cancel(), None, "a second cancel changes nothing");
    }

    #[test]
    fn a_refused_compensation_fails_the_saga_for_an_operator() {
        let (mut saga, _) = run(&[Succeeded, Succeeded, Succeeded]);
        saga.cancel();
        saga.apply(&Succeeded, &FORWARD, ATTEMPTS);
        assert_eq!(
            saga.apply(&Failed("picked_up".into()), &FORWARD, ATTEMPTS),
            Transition::Finish
        );
        assert_eq!(saga.state, SagaState::Failed);
        assert!(
            saga.reason
                .as_deref()
                .is_some_and(|r| r.contains("cancel_shipment"))
        );
    }

    #[test]
    fn names_round_trip_and_replies_name_their_step() {
        for step in ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
        assert_eq!(
            Step::answered_by("payment.declined"),
            Some((AuthorizePayment, false))
        );
        assert_eq!(
            Step::answered_by("shipping.cancelled"),
            Some((CancelShipment, true))
        );
        assert_eq!(Step::answered_by("order.created"), None);
        assert_eq!(SagaState::parse("failed"), Some(SagaState::Failed));
        assert_eq!(Ending::parse("REJECTED"), Some(Ending::Rejected));
    }
}
