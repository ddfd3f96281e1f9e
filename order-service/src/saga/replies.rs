//! What order-service receives: the participants' replies, which move each saga on, and
//! the deliveries' progress, which moves the order on once the courier has it.

use std::sync::Arc;

use messaging::{
    Envelope, Failure, Handler, Outbox,
    contracts::{DeliveryEvent, StepReply, event},
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    machine::{Outcome, Step},
    orchestrator::{self, SagaPolicy},
    store,
};
use crate::{shards::Shards, store as orders};

/// Handles the order-service queue.
#[derive(Debug, Clone)]
pub struct OrderMessages {
    pub shards: Arc<Shards>,
    pub policy: SagaPolicy,
}

impl Handler for OrderMessages {
    /// The order's own shard: its saga, its processed marks and its outbox live there.
    fn outbox(&self, message: &Envelope) -> Result<&Outbox, Failure> {
        let order: Uuid = message
            .aggregate_id
            .parse()
            .map_err(|_| Failure::Reject("the aggregate is not an order id".into()))?;
        self.shards
            .for_order(order)
            .map(|shard| &shard.outbox)
            .ok_or_else(|| Failure::Reject("no shard holds this order".into()))
    }

    async fn handle(&self, tx: &mut PgConnection, message: &Envelope) -> Result<(), Failure> {
        if let Some((step, succeeded)) = Step::answered_by(&message.kind) {
            let reply: StepReply = message.payload()?;
            return self.answer(tx, &reply, step, succeeded).await;
        }
        match message.kind.as_str() {
            event::DELIVERY_PICKED_UP => {
                courier_step(
                    tx,
                    &message.payload()?,
                    "PICKED_UP",
                    &["CONFIRMED", "ACCEPTED", "PREPARING", "READY"],
                )
                .await
            }
            event::DELIVERY_DELIVERED => {
                courier_step(tx, &message.payload()?, "DELIVERED", &["PICKED_UP"]).await
            }
            _ => Ok(()),
        }
    }
}

impl OrderMessages {
    async fn answer(
        &self,
        tx: &mut PgConnection,
        reply: &StepReply,
        step: Step,
        succeeded: bool,
    ) -> Result<(), Failure> {
        let Some(row) = store::lock(tx, reply.order_id).await? else {
            return Err(Failure::Reject(format!(
                "no saga for order {}",
                reply.order_id
            )));
        };
        let current = row.saga();
        let awaited = current
            .as_ref()
            .is_some_and(|saga| saga.state.is_active() && saga.step == step);
        if !awaited {
            // An answer to an earlier attempt, or to a step the saga has left behind.
            tracing::debug!(order = %reply.order_id, %step, "stale reply ignored");
            return Ok(());
        }
        let order = orders::lock(tx, reply.order_id)
            .await?
            .ok_or_else(|| Failure::Reject(format!("no order {}", reply.order_id)))?;
        let outcome = if succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed(reply.reason.clone().unwrap_or_else(|| "refused".into()))
        };
        orchestrator::advance(tx, &order, &row, &outcome, Some(reply), &self.policy).await?;
        Ok(())
    }
}

/// The courier picked the order up, or handed it over: the order follows, once it is in a
/// status that step may follow.
async fn courier_step(
    tx: &mut PgConnection,
    progress: &DeliveryEvent,
    to: &str,
    from: &[&str],
) -> Result<(), Failure> {
    let Some(order) = orders::lock(tx, progress.order_id).await? else {
        return Err(Failure::Reject(format!("no order {}", progress.order_id)));
    };
    if order.status == to || (to == "PICKED_UP" && order.status == "DELIVERED") {
        return Ok(());
    }
    if from.contains(&order.status.as_str()) {
        if order.courier_id.is_none()
            && let Some(courier) = progress.courier_id
        {
            orders::set_courier(tx, order.id, courier).await?;
        }
        orders::set_status(tx, order.id, from, to).await?;
        tracing::info!(order = %order.id, from = %order.status, %to, "the courier moved the order on");
        return Ok(());
    }
    if matches!(order.status.as_str(), "CANCELLED" | "REJECTED") {
        tracing::warn!(order = %order.id, status = %order.status, %to, "a courier step for an order that is over");
        return Ok(());
    }
    // The step before it (the confirmation, the pick-up) has not been applied yet.
    Err(Failure::Retry(format!(
        "the order is {}, not yet ready for {to}",
        order.status
    )))
}
