//! The messages the services exchange: each type's name (its routing key) and payload. The
//! sender and the receiver build and read them from these definitions, so a field cannot be
//! renamed on one side only.
//!
//! Every saga message's aggregate is the order; money is minor units with a currency code.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A point on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

/// Saga commands, on `saga.commands`.
pub mod command {
    /// Hold the order's total on the customer's payment method.
    pub const AUTHORIZE_PAYMENT: &str = "payment.authorize";
    /// Take the held amount.
    pub const CAPTURE_PAYMENT: &str = "payment.capture";
    /// Release the hold (also when the authorization has not arrived yet: it is refused then).
    pub const VOID_PAYMENT: &str = "payment.void";
    /// Give back what was captured.
    pub const REFUND_PAYMENT: &str = "payment.refund";
    /// Create the order's shipment and give it to the nearest free courier.
    pub const CREATE_SHIPMENT: &str = "shipping.create";
    /// Call the shipment off (also when it has not been created yet: it is refused then).
    pub const CANCEL_SHIPMENT: &str = "shipping.cancel";
}

/// Saga replies, on `saga.replies`: `<participant>.<outcome>`.
pub mod reply {
    pub const PAYMENT_AUTHORIZED: &str = "payment.authorized";
    pub const PAYMENT_DECLINED: &str = "payment.declined";
    pub const PAYMENT_CAPTURED: &str = "payment.captured";
    pub const PAYMENT_CAPTURE_FAILED: &str = "payment.capture_failed";
    pub const PAYMENT_VOIDED: &str = "payment.voided";
    pub const PAYMENT_VOID_FAILED: &str = "payment.void_failed";
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
    pub const PAYMENT_REFUND_FAILED: &str = "payment.refund_failed";
    pub const SHIPMENT_CREATED: &str = "shipping.created";
    pub const SHIPMENT_FAILED: &str = "shipping.failed";
    pub const SHIPMENT_CANCELLED: &str = "shipping.cancelled";
    pub const SHIPMENT_CANCEL_FAILED: &str = "shipping.cancel_failed";
    /// A saga command or reply was given up on (dead-lettered): payload [`super::Fault`].
    pub const FAULT: &str = "saga.fault";
}

/// Domain events, on `domain.events`.
pub mod event {
    pub const ORDER_CREATED: &str = "order.created";
    pub const ORDER_CONFIRMED: &str = "order.confirmed";
    pub const ORDER_REJECTED: &str = "order.rejected";
    pub const ORDER_CANCELLED: &str = "order.cancelled";
    pub const PAYMENT_AUTHORIZED: &str = "payment.authorized";
    pub const PAYMENT_DECLINED: &str = "payment.declined";
    pub const PAYMENT_CAPTURED: &str = "payment.captured";
    pub const PAYMENT_VOIDED: &str = "payment.voided";
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
    pub const DELIVERY_ASSIGNED: &str = "delivery.assigned";
    pub const DELIVERY_PICKED_UP: &str = "delivery.picked_up";
    pub const DELIVERY_DELIVERED: &str = "delivery.delivered";
    pub const DELIVERY_CANCELLED: &str = "delivery.cancelled";
    /// Someone asked to reset an account's password: a link to deliver to its owner.
    pub const PASSWORD_RESET_REQUESTED: &str = "account.password_reset_requested";
    /// An account's password was changed (by its owner, or through a reset).
    pub const PASSWORD_CHANGED: &str = "account.password_changed";
    /// An account's second factor was turned off.
    pub const MFA_DISABLED: &str = "account.mfa_disabled";
    /// Sessions were revoked: their access tokens must be refused from now on. Payload
    /// [`super::SessionsRevoked`].
    pub const SESSION_REVOKED: &str = "session.revoked";
}

/// The payment commands' fields. Authorize and void carry the whole order's terms, so that
/// a void that arrives before its authorization can record that the order's payment is
/// called off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCommand {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub amount: i64,
    pub currency: String,
    pub payment_method: String,
}

/// The shipping commands' fields. Cancel carries them too, for the same reason as a void.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingCommand {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub restaurant_id: String,
    pub pickup: Point,
    /// Where to, when the order's address has a position.
    #[serde(default)]
    pub dropoff: Option<Point>,
}

/// Every saga reply's fields: which order, and what the participant has to say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReply {
    pub order_id: Uuid,
    /// Why the step failed (`card_declined`, `no_courier_available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub courier_id: Option<Uuid>,
}

/// A saga command or reply that a consumer gave up on and dead-lettered, reported on
/// `saga.replies` so that the saga decides at once instead of waiting on a clock (as
/// MassTransit's `Fault<T>`). Its envelope's aggregate is the message's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The message given up on.
    pub message_id: Uuid,
    /// Its type (`payment.refund`, `shipping.created`).
    pub message_type: String,
    /// The queue whose consumer gave up (`payment-service`).
    pub queue: String,
    /// `rejected` (it can never be handled) or `attempts-exhausted`.
    pub category: String,
    /// Why.
    pub detail: String,
}

/// An order event's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub restaurant_id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A payment event's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub customer_id: Uuid,
    pub status: String,
    pub amount: i64,
    pub currency: String,
}

/// A delivery event's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    pub order_id: Uuid,
    pub shipment_id: Uuid,
    pub customer_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub courier_id: Option<Uuid>,
}

/// A password reset to deliver: the link holds the single-use token, so the message is for
/// the mailer alone, and the outbox keeps it only until it is sent (and an hour after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequested {
    pub user_id: Uuid,
    pub email: String,
    pub reset_link: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A change to how an account signs in, so that its owner can be told of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSecurityEvent {
    pub user_id: Uuid,
    pub email: String,
    /// `changed_by_owner`, `reset`, `disabled_by_owner`.
    pub how: String,
}

/// Sessions revoked, so that their access tokens are refused before they expire: announced
/// in the transaction that revokes them, and kept in the gateway's denylist until
/// `expires_at`, past which no token of these sessions is valid anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsRevoked {
    pub user_id: Uuid,
    pub session_ids: Vec<Uuid>,
    /// `logout`, `revoked_by_user`, `password_changed`, `password_reset`, `role_revoked`,
    /// `mfa_reset`, `account_disabled`, `refresh_token_reuse`, `lifetime_reached`.
    pub why: String,
    /// When the last access token these sessions could have been issued expires.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}
