//! Where a payment stands, and which operations each standing allows.

use serde::Serialize;
use utoipa::ToSchema;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The amount is held on the customer's payment method.
    Authorized,
    /// The processor refused to hold the amount: nothing is held.
    Declined,
    /// Called off before its authorization arrived: nothing was ever held.
    Cancelled,
    /// Taken, in full or in part; what was not taken is released.
    Captured,
    /// The capture failed: the amount is still held until the payment is voided.
    CaptureFailed,
    /// The hold is released.
    Voided,
    /// Part of what was captured is given back.
    PartiallyRefunded,
    /// All that was captured is given back.
    Refunded,
}

impl PaymentStatus {
    const ALL: [Self; 8] = [
        Self::Authorized,
        Self::Declined,
        Self::Cancelled,
        Self::Captured,
        Self::CaptureFailed,
        Self::Voided,
        Self::PartiallyRefunded,
        Self::Refunded,
    ];

    /// As stored, as sent and as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
            Self::Captured => "captured",
            Self::CaptureFailed => "capture_failed",
            Self::Voided => "voided",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }

    /// Whether the amount held may be taken: once, from a standing authorization.
    pub fn can_capture(self) -> bool {
        matches!(self, Self::Authorized)
    }

    /// Whether a hold is left to release: an authorization never captured, or one whose
    /// capture failed.
    pub fn can_void(self) -> bool {
        matches!(self, Self::Authorized | Self::CaptureFailed)
    }

    /// Whether some of what was captured is left to give back.
    pub fn can_refund(self) -> bool {
        matches!(self, Self::Captured | Self::PartiallyRefunded)
    }

    /// Whether money was taken, even if it has been given back since.
    pub fn was_captured(self) -> bool {
        matches!(
            self,
            Self::Captured | Self::PartiallyRefunded | Self::Refunded
        )
    }

    /// Whether the customer's money is neither held nor taken: released, never held, or
    /// given back in full.
    pub fn holds_nothing(self) -> bool {
        matches!(
            self,
            Self::Voided | Self::Declined | Self::Cancelled | Self::Refunded
        )
    }

    /// Whether the authorization was refused: declined, or called off before it came.
    pub fn is_refused(self) -> bool {
        matches!(self, Self::Declined | Self::Cancelled)
    }

    /// Where a refund leaves a payment once `refunded` of the `captured` amount is given
    /// back in all.
    pub fn after_refund(refunded: i64, captured: i64) -> Self {
        if refunded >= captured {
            Self::Refunded
        } else {
            Self::PartiallyRefunded
        }
    }
}

impl TryFrom<String> for PaymentStatus {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == stored)
            .ok_or_else(|| format!("unknown payment status {stored}"))
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::{self, *};

    /// What each status allows: capture, void, refund.
    const RULES: [(PaymentStatus, bool, bool, bool); 8] = [
        (Authorized, true, true, false),
        (Declined, false, false, false),
        (Cancelled, false, false, false),
        (Captured, false, false, true),
        (CaptureFailed, false, true, false),
        (Voided, false, false, false),
        (PartiallyRefunded, false, false, true),
        (Refunded, false, false, false),
    ];

    #[test]
    fn each_status_allows_exactly_its_operations() {
        for (status, capture, void, refund) in RULES {
            assert_eq!(status.can_capture(), capture, "capture {status}");
            assert_eq!(status.can_void(), void, "void {status}");
            assert_eq!(status.can_refund(), refund, "refund {status}");
        }
    }

    #[test]
    fn money_is_held_taken_or_neither_and_never_two_at_once() {
        for status in PaymentStatus::ALL {
            let held = status.can_void();
            let taken = status.can_refund();
            let neither = status.holds_nothing();
            assert_eq!(
                [held, taken, neither].into_iter().filter(|&b| b).count(),
                1,
                "{status}"
            );
            assert!(!status.can_refund() || status.was_captured(), "{status}");
            assert!(!status.is_refused() || status.holds_nothing(), "{status}");
        }
        assert!(Refunded.was_captured() && Refunded.holds_nothing());
    }

    #[test]
    fn a_refund_is_partial_until_all_that_was_captured_is_given_back() {
        assert_eq!(PaymentStatus::after_refund(300, 1000), PartiallyRefunded);
        assert_eq!(PaymentStatus::after_refund(1000, 1000), Refunded);
    }

    #[test]
    fn every_status_reads_back_as_stored_and_an_unknown_one_is_refused() {
        for status in PaymentStatus::ALL {
            assert_eq!(
                PaymentStatus::try_from(status.as_str().to_owned()),
                Ok(status)
            );
            assert_eq!(
                serde_json::to_value(status).expect("serialises"),
                status.as_str()
            );
        }
        assert!(PaymentStatus::try_from("AUTHORIZED".to_owned()).is_err());
        assert!(PaymentStatus::try_from("lost".to_owned()).is_err());
    }

    #[test]
    fn the_statuses_are_those_the_database_allows() {
        let check = include_str!("../../migrations/payments/0003_calling_off.sql");
        for status in PaymentStatus::ALL {
            assert!(check.contains(&format!("'{status}'")), "{status}");
        }
        let allowed = check.matches("', '").count() + 1;
        assert_eq!(allowed, PaymentStatus::ALL.len());
    }
}
