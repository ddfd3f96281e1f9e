//! The saga's steps: what each asks of a participant, which reply answers it, and what
//! undoes it.

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

pub(super) const ALL: [Step; 6] = [
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
    /// captured, so that a capture arriving late (its step was in doubt) finds nothing to
    /// take.
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

    /// The step whose command is of type `kind`.
    pub fn commanded_by(kind: &str) -> Option<Self> {
        ALL.into_iter().find(|step| step.command() == kind)
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
