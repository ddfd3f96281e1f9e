//! The deliveries' progress, as delivery-service announces it, recorded in each delivery's
//! event stream: the courier's steps show in `/tracking/{id}` and its live stream without
//! anyone posting them by hand.

use messaging::{
    Envelope, Failure, Handler, Outbox,
    contracts::{DeliveryEvent, event},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{error::TrackingError, events::Event, state::AppState, store, streams};

/// Handles the events of the tracking-service queue.
#[derive(Debug, Clone)]
pub struct DeliveryProgress {
    pub state: AppState,
    pub outbox: Outbox,
}

impl Handler for DeliveryProgress {
    fn outbox(&self, _message: &Envelope) -> Result<&Outbox, Failure> {
        Ok(&self.outbox)
    }

    async fn handle(&self, tx: &mut PgConnection, message: &Envelope) -> Result<(), Failure> {
        let step = match message.kind.as_str() {
            event::DELIVERY_ASSIGNED => {
                let progress: DeliveryEvent = message.payload()?;
                return self.assigned(tx, &progress).await;
            }
            event::DELIVERY_PICKED_UP => (Event::PickedUp, ["picked_up", "delivered"].as_slice()),
            event::DELIVERY_DELIVERED => (Event::Delivered, ["delivered"].as_slice()),
            event::DELIVERY_CANCELLED => (Event::Cancelled, ["cancelled", "delivered"].as_slice()),
            other => {
                tracing::debug!(kind = other, "not a delivery event; ignored");
                return Ok(());
            }
        };
        let progress: DeliveryEvent = message.payload()?;
        let current = store::load(tx, progress.order_id).await?;
        let status = current.status.as_deref();
        if status.is_some_and(|status| step.1.contains(&status)) {
            return Ok(());
        }
        if status.is_none() && step.0 == Event::Cancelled && progress.courier_id.is_none() {
            // A shipment called off before a courier was assigned was never tracked; one
            // with a courier waits for its assignment, which is on its way.
            return Ok(());
        }
        self.record(tx, progress.order_id, step.0).await
    }

    async fn committed(&self, message: &Envelope) {
        if let Ok(progress) = message.payload::<DeliveryEvent>()
            && let Err(err) = streams::publish(&self.state, progress.order_id).await
        {
            tracing::debug!(error = %err, "live update not sent");
        }
    }
}

impl DeliveryProgress {
    /// The stream starts with the assignment: created for its customer, then its courier.
    async fn assigned(
        &self,
        tx: &mut PgConnection,
        progress: &DeliveryEvent,
    ) -> Result<(), Failure> {
        let courier = progress
            .courier_id
            .ok_or_else(|| Failure::Reject("an assignment names no courier".into()))?;
        let current = store::load(tx, progress.order_id).await?;
        if current.status.is_none() {
            let created = Event::Created {
                customer_id: progress.customer_id,
            };
            self.record(tx, progress.order_id, created).await?;
        }
        if current.courier_id == Some(courier) {
            return Ok(());
        }
        let assigned = Event::CourierAssigned {
            courier_id: courier,
        };
        self.record(tx, progress.order_id, assigned).await
    }

    async fn record(
        &self,
        tx: &mut PgConnection,
        delivery: Uuid,
        event: Event,
    ) -> Result<(), Failure> {
        streams::record(tx, delivery, None, event, self.state.snapshot_every, |_| {
            Ok(())
        })
        .await
        .map(drop)
        .map_err(|err| match err {
            // An event that overtook the one before it: that one comes, then this.
            TrackingError::Refused(reason) => Failure::Retry(format!("not yet: {reason}")),
            other => Failure::Retry(other.to_string()),
        })
    }
}
