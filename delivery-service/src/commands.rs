//! The saga's shipping step: commands from order-service, each answered with a reply, and the
//! order's confirmation, which releases its shipment for pick-up.
//!
//! A create with no free courier leaves the order's shipment cancelled, and a cancel that
//! overtakes its create leaves it cancelled too: either way a create sent again, or arriving
//! late, finds it and fails instead of taking a courier for an order that was given up on.
//! Each message takes the order's lock first: with up to a prefetch of them handled at once,
//! a cancel and a create of one order (or a create and its resend) would otherwise each decide
//! on a store the other is about to change.

use messaging::{
    Envelope, Failure, Handler, Message, Outbox,
    contracts::{OrderEvent, ShippingCommand, StepReply, command, event, reply},
    enqueue,
};
use shared::postgres::lock_aggregate;
use sqlx::PgConnection;

use crate::{
    geo::Point,
    shipments::{self, NewShipment, ShipmentStatus, ShipmentView},
};

/// Handles the messages of the delivery-service queue: the saga's shipping commands and the
/// orders' confirmations.
#[derive(Debug, Clone)]
pub struct ShippingCommands {
    pub outbox: Outbox,
}

impl Handler for ShippingCommands {
    fn outbox(&self, _message: &Envelope) -> Result<&Outbox, Failure> {
        Ok(&self.outbox)
    }

    async fn handle(&self, tx: &mut PgConnection, message: &Envelope) -> Result<(), Failure> {
        let (kind, answer) = match message.kind.as_str() {
            command::CREATE_SHIPMENT => create(tx, &message.payload()?).await?,
            command::CANCEL_SHIPMENT => cancel(tx, &message.payload()?).await?,
            // An event: nobody waits for an answer.
            event::ORDER_CONFIRMED => return release(tx, &message.payload()?).await,
            other => {
                tracing::debug!(kind = other, "not a shipping command; ignored");
                return Ok(());
            }
        };
        enqueue(tx, &Message::reply(kind, answer.order_id, answer)).await?;
        Ok(())
    }
}

type Answer = (&'static str, StepReply);

async fn create(tx: &mut PgConnection, terms: &ShippingCommand) -> Result<Answer, Failure> {
    lock_aggregate(tx, terms.order_id).await?;
    let new = shipment(terms);
    // A shipment written meanwhile by someone not holding the lock: the retry reads it.
    let concurrently = || Failure::Retry("the order's shipment was created concurrently".into());
    let shipment = match shipments::by_order(tx, terms.order_id).await? {
        Some(existing) => existing,
        None => match shipments::take_nearest_courier(tx, new.pickup).await? {
            Some(courier) => {
                let id = shipments::insert(tx, &new, ShipmentStatus::Created)
                    .await?
                    .ok_or_else(concurrently)?;
                shipments::assign(tx, id, courier).await?
            }
            None => {
                shipments::insert(tx, &new, ShipmentStatus::Cancelled)
                    .await?
                    .ok_or_else(concurrently)?;
                return Ok((
                    reply::SHIPMENT_FAILED,
                    refused(terms, "no_courier_available"),
                ));
            }
        },
    };
    Ok(match shipment.status {
        ShipmentStatus::Assigned | ShipmentStatus::PickedUp | ShipmentStatus::Delivered => {
            (reply::SHIPMENT_CREATED, done(&shipment))
        }
        ShipmentStatus::Cancelled => (reply::SHIPMENT_FAILED, refused(terms, "cancelled")),
        ShipmentStatus::Created => (
            reply::SHIPMENT_FAILED,
            refused(terms, "no_courier_available"),
        ),
    })
}

async fn cancel(tx: &mut PgConnection, terms: &ShippingCommand) -> Result<Answer, Failure> {
    lock_aggregate(tx, terms.order_id).await?;
    let shipment = match shipments::by_order(tx, terms.order_id).await? {
        Some(shipment) => shipment,
        None => {
            let marker = shipments::insert(tx, &shipment(terms), ShipmentStatus::Cancelled).await?;
            if marker.is_some() {
                return Ok((reply::SHIPMENT_CANCELLED, refused(terms, "never_created")));
            }
            // The insert waited for a shipment written meanwhile, by someone not holding the
            // lock, and wrote nothing: that shipment is the one to cancel.
            shipments::by_order(tx, terms.order_id)
                .await?
                .ok_or_else(|| Failure::Retry("the order's shipment vanished".into()))?
        }
    };
    Ok(match shipment.status {
        ShipmentStatus::Created | ShipmentStatus::Assigned => {
            let cancelled = shipments::advance(tx, &shipment, ShipmentStatus::Cancelled).await?;
            (reply::SHIPMENT_CANCELLED, done(&cancelled))
        }
        ShipmentStatus::Cancelled => (reply::SHIPMENT_CANCELLED, done(&shipment)),
        status @ (ShipmentStatus::PickedUp | ShipmentStatus::Delivered) => (
            reply::SHIPMENT_CANCEL_FAILED,
            refused(terms, &status.as_str().to_ascii_lowercase()),
        ),
    })
}

/// Lets the courier take the food once the saga has passed its pivot (the payment's capture).
async fn release(tx: &mut PgConnection, confirmed: &OrderEvent) -> Result<(), Failure> {
    let order = confirmed.order_id;
    if shipments::release(tx, order).await? {
        tracing::info!(%order, "shipment released for pick-up");
    } else {
        tracing::debug!(%order, "no held shipment to release");
    }
    Ok(())
}

fn shipment(terms: &ShippingCommand) -> NewShipment {
    let point = |point: messaging::contracts::Point| Point {
        lat: point.lat,
        lon: point.lon,
    };
    NewShipment {
        order_id: terms.order_id,
        customer_id: terms.customer_id,
        pickup: point(terms.pickup),
        dropoff: terms.dropoff.map(point),
        // Held until the order is confirmed: the payment may still fail.
        released: false,
    }
}

fn done(shipment: &ShipmentView) -> StepReply {
    StepReply {
        order_id: shipment.order_id,
        shipment_id: Some(shipment.id),
        courier_id: shipment.courier_id,
        ..StepReply::default()
    }
}

fn refused(terms: &ShippingCommand, reason: &str) -> StepReply {
    StepReply {
        order_id: terms.order_id,
        reason: Some(reason.to_owned()),
        ..StepReply::default()
    }
}
