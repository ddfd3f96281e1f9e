//! Runs the state machine against the order's shard: every transition writes the saga, its
//! log, the order and the commands and events it sends in the caller's transaction, so the
//! saga's state, the order and what was asked of the participants never disagree.

use std::time::Duration;

use chrono::{DateTime, Utc};
use messaging::contracts::{StepReply, event};
use sqlx::PgConnection;

use super::{
    facts,
    log::Entry,
    machine::{Ending, Outcome, Saga, SagaState, Step, Transition},
    messages::{announce, send},
    store::{self, SagaRow},
};
use crate::store::{self as orders, OrderRow};

/// How long a step may stay silent, and how often a forward step is tried.
#[derive(Debug, Clone, Copy)]
pub struct SagaPolicy {
    /// The first attempt's time to answer; each further attempt waits twice as long, up to
    /// sixteen times this.
    pub step_timeout: Duration,
    /// Attempts at a forward step before its silence counts as failure.
    pub attempts: u32,
    /// How long a customer's cancellation waits for the shipment's answer, so that a
    /// refusal (the courier has the food) is told at once.
    pub cancel_wait: Duration,
}

impl SagaPolicy {
    /// When attempt `attempt` (from 1) of a step sent now counts as unanswered.
    pub fn deadline(&self, attempt: u32) -> DateTime<Utc> {
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1).min(4));
        let wait = self.step_timeout.saturating_mul(factor);
        Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }
}

/// Starts the saga of a new order, in the order's transaction: its row, its log, the first
/// command and the `order.created` event.
pub async fn begin(
    tx: &mut PgConnection,
    order: &OrderRow,
    policy: &SagaPolicy,
) -> sqlx::Result<()> {
    let saga = Saga::new();
    let entry = Entry {
        opened: Some(saga.step),
        ..Entry::default()
    };
    store::save(tx, order.id, &saga, Some(policy.deadline(1)), &entry).await?;
    send(tx, order, saga.step).await?;
    announce(tx, event::ORDER_CREATED, order, None).await
}

/// Applies how the saga's current step ended (a reply, a fault, or its silence); returns
/// the saga as it now stands.
pub async fn advance(
    tx: &mut PgConnection,
    order: &OrderRow,
    row: &SagaRow,
    outcome: &Outcome,
    reply: Option<&StepReply>,
    policy: &SagaPolicy,
) -> sqlx::Result<Saga> {
    let Some(mut saga) = row.saga() else {
        tracing::error!(order = %order.id, "unreadable saga state; left for an operator");
        return Ok(Saga::new());
    };
    let step = saga.step;
    if *outcome == Outcome::Succeeded
        && step == Step::CreateShipment
        && let Some(courier) = reply.and_then(|reply| reply.courier_id)
    {
        orders::set_courier(tx, order.id, courier).await?;
    }
    let transition = saga.apply(outcome, policy.attempts);
    tracing::info!(order = %order.id, %step, ?outcome, ?transition, state = saga.state.as_str(), "saga step ended");
    let resume = row.resume_status.as_deref();
    follow(
        tx,
        order,
        &mut saga,
        transition,
        Some(outcome),
        resume,
        policy,
    )
    .await?;
    Ok(saga)
}

/// The customer cancels: honoured when the running step ends, or at once by starting a
/// confirmed order's cancellation, which holds the order `CANCEL_PENDING` until its
/// shipment is called off. Returns the saga as it now stands.
pub async fn cancel(
    tx: &mut PgConnection,
    order: &OrderRow,
    row: &SagaRow,
    policy: &SagaPolicy,
) -> sqlx::Result<Saga> {
    let Some(mut saga) = row.saga() else {
        return Ok(Saga::new());
    };
    match saga.cancel() {
        Some(transition) => {
            orders::set_status(tx, order.id, &[order.status.as_str()], "CANCEL_PENDING").await?;
            store::set_resume_status(tx, order.id, &order.status).await?;
            follow(tx, order, &mut saga, transition, None, None, policy).await?;
        }
        None => store::save(tx, order.id, &saga, row.deadline, &Entry::default()).await?,
    }
    Ok(saga)
}

/// An operator sends a failed saga's unresolved compensations again; `None` if it has not
/// failed.
pub async fn retry(
    tx: &mut PgConnection,
    order: &OrderRow,
    row: &SagaRow,
    policy: &SagaPolicy,
) -> sqlx::Result<Option<Saga>> {
    let Some(mut saga) = row.saga() else {
        return Ok(None);
    };
    let Some(transition) = saga.retry_unresolved() else {
        return Ok(None);
    };
    let resume = row.resume_status.as_deref();
    follow(tx, order, &mut saga, transition, None, resume, policy).await?;
    Ok(Some(saga))
}

/// An operator saw to a failed saga's unresolved steps by hand: the saga is over and the
/// order takes its ending, if it was still held. `None` if it has not failed.
pub async fn resolve(
    tx: &mut PgConnection,
    order: &OrderRow,
    row: &SagaRow,
) -> sqlx::Result<Option<Saga>> {
    let Some(mut saga) = row.saga() else {
        return Ok(None);
    };
    if !saga.resolve() {
        return Ok(None);
    }
    if let Some(ending) = saga.ending {
        end_order(tx, order, ending, &saga).await?;
    }
    store::save(tx, order.id, &saga, None, &Entry::default()).await?;
    metrics::counter!("sagas_finished_total", "outcome" => "resolved").increment(1);
    Ok(Some(saga))
}

/// Writes what `transition` means: the log, the next command, the order's changes.
async fn follow(
    tx: &mut PgConnection,
    order: &OrderRow,
    saga: &mut Saga,
    transition: Transition,
    ended: Option<&Outcome>,
    resume: Option<&str>,
    policy: &SagaPolicy,
) -> sqlx::Result<()> {
    let mut entry = Entry {
        closed: ended.filter(|_| !matches!(transition, Transition::Retry)),
        ..Entry::default()
    };
    let deadline = match transition {
        Transition::Retry => {
            let detail = format!("attempt {} got no answer", saga.attempt - 1);
            entry.retried = Some((saga.attempt, detail));
            send(tx, order, saga.step).await?;
            Some(policy.deadline(saga.attempt))
        }
        Transition::Start(next) | Transition::Cancelled(next) => {
            if matches!(transition, Transition::Cancelled(_)) {
                end_order(tx, order, Ending::Cancelled, saga).await?;
            }
            entry.opened = Some(next);
            send(tx, order, next).await?;
            Some(policy.deadline(1))
        }
        Transition::Resumed => {
            let back = resume.unwrap_or("CONFIRMED");
            orders::set_status(tx, order.id, &["CANCEL_PENDING"], back).await?;
            tracing::info!(order = %order.id, status = back, reason = ?saga.reason, "the cancellation was refused; the order goes on");
            facts::apply_parked(tx, order.id).await?;
            None
        }
        Transition::Finish => {
            finish(tx, order, saga).await?;
            None
        }
    };
    store::save(tx, order.id, saga, deadline, &entry).await
}

/// The saga's end: the order's status and the event that announces it; a failed saga
/// leaves the order as it is, held, for an operator.
async fn finish(tx: &mut PgConnection, order: &OrderRow, saga: &Saga) -> sqlx::Result<()> {
    let ending = match (saga.state, saga.ending) {
        (SagaState::Completed | SagaState::Compensated, Some(ending)) => ending,
        _ => {
            tracing::error!(order = %order.id, reason = ?saga.reason, "saga failed; an operator must look");
            metrics::counter!("sagas_finished_total", "outcome" => "failed").increment(1);
            return Ok(());
        }
    };
    end_order(tx, order, ending, saga).await?;
    let outcome = ending.status().to_ascii_lowercase();
    metrics::counter!("sagas_finished_total", "outcome" => outcome.clone()).increment(1);
    let took = (Utc::now() - order.created_at).to_std().unwrap_or_default();
    metrics::histogram!("saga_duration_seconds", "outcome" => outcome).record(took.as_secs_f64());
    Ok(())
}

/// Moves the order to `ending`'s status and announces it, unless it is there already; a
/// confirmed order then takes the courier's facts that waited for it.
async fn end_order(
    tx: &mut PgConnection,
    order: &OrderRow,
    ending: Ending,
    saga: &Saga,
) -> sqlx::Result<()> {
    let from: &[&str] = match ending {
        Ending::Confirmed => &["PENDING"],
        Ending::Rejected | Ending::Cancelled => {
            &["PENDING", "CONFIRMED", "ACCEPTED", "CANCEL_PENDING"]
        }
    };
    let Some(ended) = orders::set_status(tx, order.id, from, ending.status()).await? else {
        let current = orders::status(tx, order.id).await?;
        if current.as_deref() != Some(ending.status()) {
            tracing::error!(order = %order.id, status = ?current, to = ending.status(), "the order moved on behind its saga");
        }
        return Ok(());
    };
    let kind = match ending {
        Ending::Confirmed => event::ORDER_CONFIRMED,
        Ending::Rejected => event::ORDER_REJECTED,
        Ending::Cancelled => event::ORDER_CANCELLED,
    };
    announce(tx, kind, &ended, saga.reason.clone()).await?;
    if ending == Ending::Confirmed {
        facts::apply_parked(tx, order.id).await?;
    }
    Ok(())
}
