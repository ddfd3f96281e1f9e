use std::fmt;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Confirmed,
    Accepted,
    Preparing,
    Ready,
    PickedUp,
    Delivered,
    /// A confirmed order whose cancellation runs: held until its shipment is called off.
    CancelPending,
    Cancelled,
    Rejected,
}

/// Something done to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The customer calls it off.
    Cancel,
    /// The restaurant takes it.
    Accept,
    /// The kitchen starts on it.
    Prepare,
    /// It waits for the courier.
    MarkReady,
}

impl Status {
    /// Whether a saga holds the order (its semantic lock): the restaurant's moves wait.
    pub fn is_held(self) -> bool {
        matches!(self, Self::Pending | Self::CancelPending)
    }

    /// The status an action leads to from this one, if it is allowed. A cancellation's
    /// target is where it heads: the saga decides when, and whether, it gets there.
    pub fn after(self, action: Action) -> Option<Self> {
        use Action::{Accept, Cancel, MarkReady, Prepare};
        use Status::{Accepted, Cancelled, Confirmed, Pending, Preparing, Ready};
        match (self, action) {
            (Pending | Confirmed | Accepted, Cancel) => Some(Cancelled),
            (Confirmed, Accept) => Some(Accepted),
            (Accepted, Prepare) => Some(Preparing),
            (Preparing, MarkReady) => Some(Ready),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Accepted => "ACCEPTED",
            Self::Preparing => "PREPARING",
            Self::Ready => "READY",
            Self::PickedUp => "PICKED_UP",
            Self::Delivered => "DELIVERED",
            Self::CancelPending => "CANCEL_PENDING",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
        }
    }

    /// The status named `name` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Confirmed,
            Self::Accepted,
            Self::Preparing,
            Self::Ready,
            Self::PickedUp,
            Self::Delivered,
            Self::CancelPending,
            Self::Cancelled,
            Self::Rejected,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{Action::*, Status::*, *};

    #[test]
    fn the_kitchen_path_is_followed_in_order() {
        assert_eq!(
            Pending.after(Accept),
            None,
            "not before the saga confirms it"
        );
        assert_eq!(Confirmed.after(Accept), Some(Accepted));
        assert_eq!(Accepted.after(Prepare), Some(Preparing));
        assert_eq!(Preparing.after(MarkReady), Some(Ready));
        assert_eq!(Pending.after(Prepare), None, "no skipping");
        assert_eq!(Ready.after(Accept), None, "no going back");
    }

    #[test]
    fn a_customer_cancels_only_before_cooking_starts() {
        assert_eq!(Pending.after(Cancel), Some(Cancelled));
        assert_eq!(Accepted.after(Cancel), Some(Cancelled));
        assert_eq!(Preparing.after(Cancel), None);
        assert_eq!(Cancelled.after(Cancel), None);
    }

    #[test]
    fn names_round_trip() {
        for status in [
            Pending,
            Confirmed,
            Accepted,
            Preparing,
            Ready,
            PickedUp,
            Delivered,
            CancelPending,
            Cancelled,
            Rejected,
        ] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("pending"), Some(Pending));
        assert_eq!(Status::parse("LOST"), None);
    }
}
