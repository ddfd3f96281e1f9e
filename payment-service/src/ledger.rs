//! The rules of a payment's life, each applied inside the caller's transaction with its
//! ledger lines and its domain event, whether an operator's request or a saga command asked.

use messaging::{
    Message,
    contracts::{PaymentEvent, event},
    enqueue,
};
use shared::FieldError;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    domain::{Authorization, TestCard},
    error::PaymentError,
    status::PaymentStatus,
    store::{self, PaymentRow},
};

const CUSTOMER_FUNDS: &str = "customer_funds";
const HOLDS: &str = "authorization_holds";
const REVENUE: &str = "merchant_revenue";

/// A payment after an operation, and the processor's refusal if it refused.
#[derive(Debug)]
pub struct Applied {
    pub payment: PaymentRow,
    /// `card_declined`, `insufficient_funds`, `capture_failed`.
    pub refusal: Option<&'static str>,
}

impl Applied {
    fn done(payment: PaymentRow) -> Self {
        Self {
            payment,
            refusal: None,
        }
    }
}

/// Holds the amount on the customer's payment method, or records the decline; `existing`
/// is the order's payment, as the caller found it locked.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn authorize(
    tx: &mut PgConnection,
    existing: Option<&PaymentRow>,
    authorization: &Authorization,
    customer: Uuid,
) -> Result<Applied, PaymentError> {
    if existing.is_some() {
        return Err(PaymentError::Conflict(
            "This order already has a payment.".into(),
        ));
    }
    let decline = authorization.card.decline();
    let status = if decline.is_some() {
        PaymentStatus::Declined
    } else {
        PaymentStatus::Authorized
    };
    let payment = new_payment(authorization, customer, status, decline);
    store::insert(tx, &payment).await?;
    if decline.is_none() {
        store::post(
            tx,
            &payment,
            "authorize",
            CUSTOMER_FUNDS,
            HOLDS,
            payment.authorized_amount,
        )
        .await?;
    }
    let kind = if decline.is_some() {
        event::PAYMENT_DECLINED
    } else {
        event::PAYMENT_AUTHORIZED
    };
    announce(tx, kind, &payment, payment.authorized_amount).await?;
    Ok(Applied {
        payment,
        refusal: decline,
    })
}

/// Records that the order's payment is called off before any authorization was seen: an
/// authorization that arrives later finds it and is refused, so nothing is ever held for an
/// order that was given up on.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn call_off(
    tx: &mut PgConnection,
    authorization: &Authorization,
    customer: Uuid,
) -> Result<PaymentRow, PaymentError> {
    let payment = new_payment(authorization, customer, PaymentStatus::Cancelled, None);
    store::insert(tx, &payment).await?;
    Ok(payment)
}

/// Takes `amount` (by default all) of what was authorized from `payment` (locked by the
/// caller) and releases the rest.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn capture(
    tx: &mut PgConnection,
    payment: PaymentRow,
    amount: Option<i64>,
) -> Result<Applied, PaymentError> {
    if !payment.status.can_capture() {
        return Err(PaymentError::Conflict(format!(
            "A payment that is {} cannot be captured.",
            payment.status
        )));
    }
    let amount = amount.unwrap_or(payment.authorized_amount);
    if amount > payment.authorized_amount {
        return Err(PaymentError::Validation(vec![FieldError::new(
            "amount",
            "exceeds the authorized amount",
        )]));
    }
    if TestCard::parse(&payment.payment_method) == Some(TestCard::CaptureFails) {
        let failed = store::update(tx, payment.id, PaymentStatus::CaptureFailed, 0, 0).await?;
        return Ok(Applied {
            payment: failed,
            refusal: Some("capture_failed"),
        });
    }
    store::post(tx, &payment, "capture", HOLDS, REVENUE, amount).await?;
    if amount < payment.authorized_amount {
        let rest = payment.authorized_amount - amount;
        store::post(tx, &payment, "release", HOLDS, CUSTOMER_FUNDS, rest).await?;
    }
    let captured = store::update(tx, payment.id, PaymentStatus::Captured, amount, 0).await?;
    announce(tx, event::PAYMENT_CAPTURED, &captured, amount).await?;
    Ok(Applied::done(captured))
}

/// Releases the authorization of `payment` (locked by the caller), which will not be
/// captured.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn void(tx: &mut PgConnection, payment: PaymentRow) -> Result<Applied, PaymentError> {
    if !payment.status.can_void() {
        return Err(PaymentError::Conflict(format!(
            "A payment that is {} cannot be voided.",
            payment.status
        )));
    }
    let held = payment.authorized_amount;
    store::post(tx, &payment, "void", HOLDS, CUSTOMER_FUNDS, held).await?;
    let voided = store::update(tx, payment.id, PaymentStatus::Voided, 0, 0).await?;
    announce(tx, event::PAYMENT_VOIDED, &voided, held).await?;
    Ok(Applied::done(voided))
}

/// Gives back `amount` of what `payment` (locked by the caller) captured, never more than
/// is left.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn refund(
    tx: &mut PgConnection,
    payment: PaymentRow,
    amount: i64,
) -> Result<Applied, PaymentError> {
    if !payment.status.can_refund() {
        return Err(PaymentError::Conflict(format!(
            "A payment that is {} cannot be refunded.",
            payment.status
        )));
    }
    let refundable = payment.captured_amount - payment.refunded_amount;
    if amount > refundable {
        return Err(PaymentError::Validation(vec![FieldError::new(
            "amount",
            format!("exceeds what is refundable ({refundable})"),
        )]));
    }
    store::post(tx, &payment, "refund", REVENUE, CUSTOMER_FUNDS, amount).await?;
    let refunded = payment.refunded_amount + amount;
    let status = PaymentStatus::after_refund(refunded, payment.captured_amount);
    let updated = store::update(tx, payment.id, status, payment.captured_amount, refunded).await?;
    announce(tx, event::PAYMENT_REFUNDED, &updated, amount).await?;
    Ok(Applied::done(updated))
}

/// The order's payment, locked until the transaction ends.
pub async fn locked(tx: &mut PgConnection, order: Uuid) -> Result<PaymentRow, PaymentError> {
    store::lock_by_order(tx, order)
        .await?
        .ok_or(PaymentError::NotFound)
}

fn new_payment(
    authorization: &Authorization,
    customer: Uuid,
    status: PaymentStatus,
    decline: Option<&str>,
) -> PaymentRow {
    PaymentRow {
        id: Uuid::now_v7(),
        order_id: authorization.order_id,
        customer_id: customer,
        currency: authorization.currency.clone(),
        payment_method: authorization.payment_method.clone(),
        status,
        authorized_amount: authorization.amount,
        captured_amount: 0,
        refunded_amount: 0,
        decline_reason: decline.map(str::to_owned),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }
}

async fn announce(
    tx: &mut PgConnection,
    kind: &'static str,
    payment: &PaymentRow,
    amount: i64,
) -> sqlx::Result<()> {
    let event = PaymentEvent {
        order_id: payment.order_id,
        payment_id: payment.id,
        customer_id: payment.customer_id,
        status: payment.status.to_string(),
        amount,
        currency: payment.currency.clone(),
    };
    enqueue(&mut *tx, &Message::event(kind, payment.order_id, event))
        .await
        .map(drop)
}
