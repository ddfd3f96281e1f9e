//! The saga's paths, step by step, and its promises over many random histories.

use proptest::prelude::*;

use super::{super::step::ALL, Outcome::*, Step::*, *};

const ATTEMPTS: u32 = 3;

/// Runs `outcomes` from a new saga, each answering the step current at the time; returns
/// the saga and every step started.
fn run(outcomes: &[Outcome]) -> (Saga, Vec<Step>) {
    let mut saga = Saga::new();
    let mut started = vec![saga.step];
    for outcome in outcomes {
        if let Transition::Start(next) | Transition::Cancelled(next) = saga.apply(outcome, ATTEMPTS)
        {
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
fn a_fault_is_an_answer_in_doubt_and_undoes_its_step_at_once() {
    let (saga, started) = run(&[Succeeded, Succeeded, Faulted("rejected".into())]);
    assert_eq!(
        started,
        [
            AuthorizePayment,
            CreateShipment,
            CapturePayment,
            RefundPayment
        ],
        "no waiting on a clock: the capture may have happened, so it is refunded first"
    );
    assert_eq!(saga.pending, [CancelShipment, VoidPayment]);
}

#[test]
fn compensations_are_retried_until_they_answer() {
    let mut saga = Saga::new();
    saga.apply(&Succeeded, ATTEMPTS);
    saga.apply(&Failed("no_courier_available".into()), ATTEMPTS);
    for attempt in 2..=10 {
        assert_eq!(saga.apply(&TimedOut, ATTEMPTS), Transition::Retry);
        assert_eq!(saga.attempt, attempt);
    }
    assert_eq!(saga.apply(&Succeeded, ATTEMPTS), Transition::Finish);
    assert_eq!(saga.state, SagaState::Compensated);
}

#[test]
fn a_refused_compensation_drops_none_of_the_others_and_fails_for_an_operator() {
    let (mut saga, started) = run(&[
        Succeeded,
        Succeeded,
        Failed("capture_failed".into()),
        Failed("picked_up".into()),
    ]);
    assert_eq!(started.last(), Some(&VoidPayment), "the void still runs");
    assert_eq!(saga.apply(&Succeeded, ATTEMPTS), Transition::Finish);
    assert_eq!(saga.state, SagaState::Failed);
    assert_eq!(
        saga.unresolved,
        [Unresolved {
            step: CancelShipment,
            reason: "picked_up".into()
        }]
    );
    assert!(
        saga.reason
            .as_deref()
            .is_some_and(|r| r.contains("cancel_shipment: picked_up"))
    );

    assert_eq!(
        saga.retry_unresolved(),
        Some(Transition::Start(CancelShipment)),
        "an operator sends it again"
    );
    assert_eq!(saga.apply(&Succeeded, ATTEMPTS), Transition::Finish);
    assert_eq!(saga.state, SagaState::Compensated);
    assert!(saga.unresolved.is_empty());
}

#[test]
fn a_cancel_while_running_waits_for_the_step_then_undoes_it() {
    let mut saga = Saga::new();
    assert_eq!(saga.cancel(), None);
    assert_eq!(
        saga.apply(&Succeeded, ATTEMPTS),
        Transition::Start(VoidPayment),
        "the authorization that just succeeded is voided"
    );
    assert_eq!(saga.apply(&Succeeded, ATTEMPTS), Transition::Finish);
    assert_eq!(saga.ending, Some(Ending::Cancelled));
}

#[test]
fn a_cancel_stops_retries_of_a_silent_step() {
    let mut saga = Saga::new();
    saga.cancel();
    assert_eq!(
        saga.apply(&TimedOut, ATTEMPTS),
        Transition::Start(VoidPayment)
    );
}

#[test]
fn a_confirmed_order_s_cancel_calls_the_shipment_off_first_and_moves_money_last() {
    let (mut saga, _) = run(&[Succeeded, Succeeded, Succeeded]);
    assert_eq!(saga.cancel(), Some(Transition::Start(CancelShipment)));
    assert_eq!(saga.state, SagaState::Cancelling);
    assert_eq!(saga.cancel(), None, "a second cancel changes nothing");
    assert_eq!(saga.apply(&TimedOut, ATTEMPTS), Transition::Retry);
    assert_eq!(
        saga.apply(&Succeeded, ATTEMPTS),
        Transition::Cancelled(RefundPayment)
    );
    for _ in 0..10 {
        assert_eq!(saga.apply(&TimedOut, ATTEMPTS), Transition::Retry);
    }
    assert_eq!(saga.apply(&Succeeded, ATTEMPTS), Transition::Finish);
    assert_eq!(saga.state, SagaState::Compensated);
    assert_eq!(saga.ending, Some(Ending::Cancelled));
}

#[test]
fn a_cancel_refused_because_the_courier_has_the_food_lets_the_order_go_on_unrefunded() {
    let (mut saga, _) = run(&[Succeeded, Succeeded, Succeeded]);
    saga.cancel();
    assert_eq!(
        saga.apply(&Failed("picked_up".into()), ATTEMPTS),
        Transition::Resumed
    );
    assert_eq!(saga.state, SagaState::Completed);
    assert_eq!(saga.ending, Some(Ending::Confirmed));
    assert!(saga.pending.is_empty(), "no refund is left to run");
    assert!(!saga.cancel_requested);
}

#[test]
fn only_a_failed_saga_is_retried_or_resolved() {
    let (mut saga, _) = run(&[Succeeded]);
    assert_eq!(saga.retry_unresolved(), None);
    assert!(!saga.resolve());
    let (mut failed, _) = run(&[Failed("no_courier_available".into())]);
    failed.state = SagaState::Failed;
    assert!(failed.resolve());
    assert_eq!(failed.state, SagaState::Resolved);
}

#[test]
fn names_round_trip_and_messages_name_their_step() {
    for step in ALL {
        assert_eq!(Step::parse(step.as_str()), Some(step));
        assert_eq!(Step::commanded_by(step.command()), Some(step));
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
    for state in SagaState::ALL {
        assert_eq!(SagaState::parse(state.as_str()), Some(state));
    }
    assert_eq!(Ending::parse("REJECTED"), Some(Ending::Rejected));
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Succeeded),
        1 => Just(Failed("refused".into())),
        2 => Just(TimedOut),
        1 => Just(Faulted("dead-lettered".into())),
    ]
}

/// Whether a forward step may have had its effect: it succeeded, or its answer is in doubt.
fn may_have_happened(outcome: &Outcome) -> bool {
    !matches!(outcome, Failed(_))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Over random answers, customer's cancels at random moments and a confirmed order's
    /// cancel: the saga ends; nothing that may have happened is left without its
    /// compensation having run or being listed for an operator; a confirmed order's refund
    /// never runs before its shipment is called off.
    #[test]
    fn every_history_ends_and_leaves_nothing_undone_unlisted(
        answers in prop::collection::vec(outcome(), 0..40),
        cancel_at in prop::option::of(0_usize..40),
        cancel_confirmed in any::<bool>(),
    ) {
        let mut saga = Saga::new();
        // Forward steps that may have had their effect, and compensations that succeeded.
        let mut effects: Vec<Step> = Vec::new();
        let mut undone: Vec<Step> = Vec::new();
        let mut answers = answers.into_iter();
        let mut turns = 0;
        loop {
            turns += 1;
            prop_assert!(turns < 400, "the saga ends: {saga:?}");
            if Some(turns) == cancel_at || (cancel_confirmed && saga.state == SagaState::Completed) {
                saga.cancel();
            }
            if !saga.state.is_active() {
                break;
            }
            // Once the random answers are used up, every participant answers.
            let answer = answers.next().unwrap_or(Succeeded);
            let step = saga.step;
            let state = saga.state;
            // Participants answer every attempt at a step alike (idempotent by order):
            // its last answer says whether it happened.
            if state == SagaState::Running {
                effects.retain(|effect| *effect != step);
                if may_have_happened(&answer) {
                    effects.push(step);
                }
            }
            if step.is_compensation() && answer == Succeeded {
                undone.push(step);
            }
            let transition = saga.apply(&answer, ATTEMPTS);
            if let Transition::Cancelled(next) = transition {
                prop_assert_eq!(step, CancelShipment, "the order is cancelled only once its shipment is");
                prop_assert_eq!(next, RefundPayment);
            }
            if state == SagaState::Cancelling && step == CancelShipment && answer == Succeeded {
                prop_assert!(matches!(transition, Transition::Cancelled(RefundPayment)));
            }
        }
        match saga.state {
            SagaState::Completed => {
                prop_assert_eq!(saga.ending, Some(Ending::Confirmed));
                prop_assert!(!undone.contains(&RefundPayment), "a confirmed order keeps its money");
            }
            SagaState::Compensated | SagaState::Failed => {
                let listed: Vec<Step> = saga.unresolved.iter().map(|u| u.step).collect();
                for effect in &effects {
                    let compensation = effect.compensation().expect("forward steps have one");
                    // A refund also releases an authorization never captured.
                    let covered = undone.contains(&compensation)
                        || listed.contains(&compensation)
                        || (compensation == VoidPayment
                            && (undone.contains(&RefundPayment) || listed.contains(&RefundPayment)));
                    prop_assert!(
                        covered,
                        "{effect} may have happened but {compensation} neither ran nor is listed: {saga:?}"
                    );
                }
                prop_assert_eq!(saga.state == SagaState::Failed, !listed.is_empty());
            }
            other => prop_assert!(false, "ended {other:?}"),
        }
    }
}
