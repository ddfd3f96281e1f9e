//! The saga's shipping step: commands from order-service, each answered with a reply.
//!
//! A create with no free courier leaves the order's shipment cancelled, and a cancel that
//! overtakes its create leaves it cancelled too: either way a create sent again, or arriving
//! late, finds it and fails instead of taking a courier for an order that was given up on.

use messaging::{
    Envelope, Failure, Handler, Message, Outbox,
    contracts::{ShippingCommand, StepReply, command, reply},
    enqueue,
};
use sqlx::PgConnection;

use crate::{
    geo::Point,
    shipments::{self, NewShipment, ShipmentStatus, ShipmentView},
};

/// Handles the commands of the delivery-service queue.
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
    let new = shipment(terms);
    let shipment = match shipments::by_order(tx, terms.order_id).await? {
        Some(existing) => existing,
        None => match shipments::take_nearest_courier(tx, new.pickup).await? {
            Some(courier) => {
                let id = shipments::insert(tx, &new, ShipmentStatus::Created)
                    .await?
                    .ok_or_else(|| Failure::Retry("created concurrently".into()))?;
                shipments::assign(tx, id, courier).await?
            }
            None => {
                shipments::insert(tx, &new, ShipmentStatus::Cancelled).await?;
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
    let Some(shipment) = shipments::by_order(tx, terms.order_id).await? else {
        shipments::insert(tx, &shipment(terms), ShipmentStatus::Cancelled).await?;
        return Ok((reply::SHIPMENT_CANCELLED, refused(terms, "never_created")));
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
