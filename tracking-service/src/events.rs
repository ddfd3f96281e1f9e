//! The events of a delivery, and the state they add up to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Something that happened to a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The delivery of a customer's order starts being tracked.
    Created { customer_id: Uuid },
    /// A courier takes it.
    CourierAssigned { courier_id: Uuid },
    /// The courier has the food.
    PickedUp,
    /// Where the courier is.
    LocationUpdated {
        lat: f64,
        lon: f64,
        recorded_at: DateTime<Utc>,
    },
    /// Handed over.
    Delivered,
    /// Called off.
    Cancelled,
}

impl Event {
    /// The stored name of the event's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::CourierAssigned { .. } => "courier_assigned",
            Self::PickedUp => "picked_up",
            Self::LocationUpdated { .. } => "location_updated",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Where a delivery stands: the fold of its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub version: i32,
    pub status: Option<String>,
    pub customer_id: Option<Uuid>,
    pub courier_id: Option<Uuid>,
    pub last_location_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// The state after `event`.
    pub fn apply(mut self, event: &Event) -> Self {
        self.version += 1;
        match event {
            Event::Created { customer_id } => {
                self.customer_id = Some(*customer_id);
                self.status = Some("created".into());
            }
            Event::CourierAssigned { courier_id } => {
                self.courier_id = Some(*courier_id);
                self.status = Some("assigned".into());
            }
            Event::PickedUp => self.status = Some("picked_up".into()),
            Event::LocationUpdated { recorded_at, .. } => {
                self.last_location_at = Some(*recorded_at)
            }
            Event::Delivered => self.status = Some("delivered".into()),
            Event::Cancelled => self.status = Some("cancelled".into()),
        }
        self
    }

    /// Why `event` may not follow this state, if it may not.
    pub fn refuse(&self, event: &Event) -> Option<String> {
        let status = self.status.as_deref();
        let allowed = match event {
            Event::Created { .. } => status.is_none(),
            Event::CourierAssigned { .. } => matches!(status, Some("created" | "assigned")),
            Event::PickedUp => status == Some("assigned"),
            Event::LocationUpdated { .. } => matches!(status, Some("assigned" | "picked_up")),
            Event::Delivered => status == Some("picked_up"),
            Event::Cancelled => matches!(status, Some("created" | "assigned")),
        };
        (!allowed).then(|| {
            format!(
                "A delivery that is {} cannot take {}.",
                status.unwrap_or("untracked"),
                event.kind()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(events: &[Event]) -> Delivery {
        events.iter().fold(Delivery::default(), Delivery::apply)
    }

    #[test]
    fn state_is_the_fold_of_the_events() {
        let courier = Uuid::now_v7();
        let state = replay(&[
            Event::Created {
                customer_id: Uuid::now_v7(),
            },
            Event::CourierAssigned {
                courier_id: courier,
            },
            Event::PickedUp,
        ]);
        assert_eq!(
            (state.version, state.status.as_deref(), state.courier_id),
            (3, Some("picked_up"), Some(courier))
        );
    }

    #[test]
    fn events_out_of_order_are_refused() {
        let created = replay(&[Event::Created {
            customer_id: Uuid::now_v7(),
        }]);
        assert!(created.refuse(&Event::Delivered).is_some());
        assert!(created.refuse(&Event::PickedUp).is_some());
        assert!(
            created
                .refuse(&Event::CourierAssigned {
                    courier_id: Uuid::now_v7()
                })
                .is_none()
        );
        assert!(Delivery::default().refuse(&Event::PickedUp).is_some());
        let delivered = replay(&[
            Event::Created {
                customer_id: Uuid::now_v7(),
            },
            Event::CourierAssigned {
                courier_id: Uuid::now_v7(),
            },
            Event::PickedUp,
            Event::Delivered,
        ]);
        assert!(delivered.refuse(&Event::Cancelled).is_some());
    }

    #[test]
    fn events_serialise_with_their_type() {
        let value = serde_json::to_value(Event::CourierAssigned {
            courier_id: Uuid::nil(),
        })
        .expect("json");
        assert_eq!(value["type"], "courier_assigned");
    }
}
