//! The saga's payment step: commands from order-service, each answered with a reply.
//!
//! Every command is idempotent by its order as well as by its message id: a command sent
//! again after a time-out finds the payment as the first one left it and gets the same
//! answer. A void that overtakes its authorization records the payment as called off, so
//! that the late authorization is refused instead of holding money for a dead order.

use messaging::{
    Envelope, Failure, Handler, Message, Outbox,
    contracts::{PaymentCommand, StepReply, command, reply},
    enqueue,
};
use shared::postgres::lock_aggregate;
use sqlx::PgConnection;

use crate::{
    domain::{Authorization, TestCard},
    error::PaymentError,
    ledger,
    store::{self, PaymentRow},
};

/// Handles the commands of the payment-service queue.
#[derive(Debug, Clone)]
pub struct PaymentCommands {
    pub outbox: Outbox,
}

impl Handler for PaymentCommands {
    fn outbox(&self, _message: &Envelope) -> Result<&Outbox, Failure> {
        Ok(&self.outbox)
    }

    async fn handle(&self, tx: &mut PgConnection, message: &Envelope) -> Result<(), Failure> {
        if message.kind.starts_with("payment.") {
            // Commands about one order, the same one sent twice at once included, are
            // handled one after the other: each finds the payment as the last one left it.
            let terms: PaymentCommand = message.payload()?;
            lock_aggregate(tx, terms.order_id).await?;
        }
        let (kind, answer) = match message.kind.as_str() {
            command::AUTHORIZE_PAYMENT => authorize(tx, &message.payload()?).await?,
            command::CAPTURE_PAYMENT => capture(tx, &message.payload()?).await?,
            command::VOID_PAYMENT => void(tx, &message.payload()?).await?,
            command::REFUND_PAYMENT => refund(tx, &message.payload()?).await?,
            other => {
                tracing::debug!(kind = other, "not a payment command; ignored");
                return Ok(());
            }
        };
        enqueue(tx, &Message::reply(kind, answer.order_id, answer)).await?;
        Ok(())
    }
}

type Answer = (&'static str, StepReply);

async fn authorize(tx: &mut PgConnection, terms: &PaymentCommand) -> Result<Answer, Failure> {
    let payment = match store::lock_by_order(tx, terms.order_id).await? {
        Some(payment) => payment,
        None => {
            let authorization = authorization(terms)?;
            ledger::authorize(tx, None, &authorization, terms.customer_id)
                .await
                .map_err(failure)?
                .payment
        }
    };
    Ok(if payment.status.is_refused() {
        (
            reply::PAYMENT_DECLINED,
            refused(
                &payment,
                payment.decline_reason.as_deref().unwrap_or("cancelled"),
            ),
        )
    } else {
        (
            reply::PAYMENT_AUTHORIZED,
            done(&payment, payment.authorized_amount),
        )
    })
}

async fn capture(tx: &mut PgConnection, terms: &PaymentCommand) -> Result<Answer, Failure> {
    let Some(payment) = store::lock_by_order(tx, terms.order_id).await? else {
        return Ok((reply::PAYMENT_CAPTURE_FAILED, missing(terms)));
    };
    let payment = if payment.status.can_capture() {
        ledger::capture(tx, payment, Some(terms.amount))
            .await
            .map_err(failure)?
            .payment
    } else {
        payment
    };
    Ok(if payment.status.was_captured() {
        (
            reply::PAYMENT_CAPTURED,
            done(&payment, payment.captured_amount),
        )
    } else {
        (
            reply::PAYMENT_CAPTURE_FAILED,
            refused(&payment, payment.status.as_str()),
        )
    })
}

async fn void(tx: &mut PgConnection, terms: &PaymentCommand) -> Result<Answer, Failure> {
    let payment = match store::lock_by_order(tx, terms.order_id).await? {
        None => ledger::call_off(tx, &authorization(terms)?, terms.customer_id)
            .await
            .map_err(failure)?,
        Some(payment) if payment.status.can_void() => {
            ledger::void(tx, payment).await.map_err(failure)?.payment
        }
        Some(payment) => payment,
    };
    Ok(if payment.status.holds_nothing() {
        (reply::PAYMENT_VOIDED, done(&payment, 0))
    } else {
        // Money was taken: only a refund undoes that.
        (
            reply::PAYMENT_VOID_FAILED,
            refused(&payment, payment.status.as_str()),
        )
    })
}

/// Makes sure nothing is captured for the order: what was captured is given back, and an
/// authorization never captured is released at once, so that a capture arriving late (its
/// step was in doubt) finds nothing to take.
async fn refund(tx: &mut PgConnection, terms: &PaymentCommand) -> Result<Answer, Failure> {
    let Some(payment) = store::lock_by_order(tx, terms.order_id).await? else {
        // No payment, so nothing captured; the void that follows calls the payment off.
        return Ok((reply::PAYMENT_REFUNDED, missing(terms)));
    };
    let payment = if payment.status.can_refund() {
        let rest = payment.captured_amount - payment.refunded_amount;
        ledger::refund(tx, payment, rest)
            .await
            .map_err(failure)?
            .payment
    } else if payment.status.can_void() {
        ledger::void(tx, payment).await.map_err(failure)?.payment
    } else {
        payment
    };
    Ok((
        reply::PAYMENT_REFUNDED,
        done(&payment, payment.refunded_amount),
    ))
}

fn authorization(terms: &PaymentCommand) -> Result<Authorization, Failure> {
    let card = TestCard::parse(&terms.payment_method).unwrap_or(TestCard::Unknown);
    Ok(Authorization {
        order_id: terms.order_id,
        amount: terms.amount,
        currency: terms.currency.clone(),
        payment_method: terms.payment_method.clone(),
        card,
    })
}

fn done(payment: &PaymentRow, amount: i64) -> StepReply {
    StepReply {
        order_id: payment.order_id,
        payment_id: Some(payment.id),
        amount: Some(amount),
        ..StepReply::default()
    }
}

fn refused(payment: &PaymentRow, reason: &str) -> StepReply {
    StepReply {
        order_id: payment.order_id,
        payment_id: Some(payment.id),
        reason: Some(reason.to_owned()),
        ..StepReply::default()
    }
}

/// The answer about an order that has no payment.
fn missing(terms: &PaymentCommand) -> StepReply {
    StepReply {
        order_id: terms.order_id,
        reason: Some("no_payment".into()),
        ..StepReply::default()
    }
}

/// A rule's refusal is the step's answer, not a reason to try again; anything else is.
fn failure(err: PaymentError) -> Failure {
    match err {
        PaymentError::Database(err) => err.into(),
        other => Failure::Reject(other.to_string()),
    }
}
