//! The saga's paths, step by step.

use super::{super::step::ALL, Outcome::*, Step::*, *};

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
