//! What the saga sends: each step's command with the order's terms, and the order's events.

use messaging::{
    Message,
    contracts::{OrderEvent, PaymentCommand, Point, ShippingCommand},
    enqueue,
};
use sqlx::PgConnection;

use super::machine::Step;
use crate::store::OrderRow;

/// Sends `step`'s command with the order's terms.
pub(super) async fn send(tx: &mut PgConnection, order: &OrderRow, step: Step) -> sqlx::Result<()> {
    let kind = step.command();
    match step {
        Step::CreateShipment | Step::CancelShipment => {
            let pickup = Point {
                lat: order.pickup_lat.unwrap_or_default(),
                lon: order.pickup_lon.unwrap_or_default(),
            };
            let terms = ShippingCommand {
                order_id: order.id,
                customer_id: order.customer_id,
                restaurant_id: order.restaurant_id.clone(),
                pickup,
                dropoff: order.delivery_address.0.location.map(|location| Point {
                    lat: location.lat,
                    lon: location.lon,
                }),
            };
            enqueue(tx, &Message::command(kind, order.id, terms)).await?;
        }
        _ => {
            let terms = PaymentCommand {
                order_id: order.id,
                customer_id: order.customer_id,
                amount: order.total_amount,
                currency: order.currency.clone(),
                payment_method: order.payment_method.clone(),
            };
            enqueue(tx, &Message::command(kind, order.id, terms)).await?;
        }
    }
    Ok(())
}

pub(super) async fn announce(
    tx: &mut PgConnection,
    kind: &'static str,
    order: &OrderRow,
    reason: Option<String>,
) -> sqlx::Result<()> {
    let event = OrderEvent {
        order_id: order.id,
        customer_id: order.customer_id,
        restaurant_id: order.restaurant_id.clone(),
        status: order.status.clone(),
        amount: order.total_amount,
        currency: order.currency.clone(),
        reason,
    };
    enqueue(tx, &Message::event(kind, order.id, event))
        .await
        .map(drop)
}
