//! What order-service receives: the participants' replies and faults, which move each
//! saga on, and the courier's progress, which moves the order on (see [`facts`]).

use std::sync::Arc;

use messaging::{
    Envelope, Failure, Handler, Outbox,
    contracts::{Fault, StepReply, event, reply},
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    facts,
    machine::{Outcome, Step},
    orchestrator::{self, SagaPolicy},
    store,
};
use crate::shards::Shards;

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
            let outcome = if succeeded {
                Outcome::Succeeded
            } else {
                Outcome::Failed(reply.reason.clone().unwrap_or_else(|| "refused".into()))
            };
            return self
                .answer(tx, reply.order_id, step, &outcome, Some(&reply))
                .await;
        }
        match message.kind.as_str() {
            reply::FAULT => self.fault(tx, message).await,
            event::DELIVERY_PICKED_UP | event::DELIVERY_DELIVERED => {
                facts::take(tx, message, facts::status_of(&message.kind)).await
            }
            _ => Ok(()),
        }
    }
}

impl OrderMessages {
    /// A command of the saga's, or a reply to one, was given up on: the step it concerns
    /// ended in a fault, if the saga still waits on it.
    async fn fault(&self, tx: &mut PgConnection, message: &Envelope) -> Result<(), Failure> {
        let fault: Fault = message.payload()?;
        let order: Uuid = message
            .aggregate_id
            .parse()
            .map_err(|_| Failure::Reject("the aggregate is not an order id".into()))?;
        let step = Step::commanded_by(&fault.message_type)
            .or_else(|| Step::answered_by(&fault.message_type).map(|(step, _)| step));
        let Some(step) = step else {
            tracing::warn!(%order, kind = %fault.message_type, "a fault about no saga step; ignored");
            return Ok(());
        };
        tracing::warn!(%order, %step, queue = %fault.queue, category = %fault.category, detail = %fault.detail, "a saga message was given up on");
        let reason = format!(
            "{} {} by {}: {}",
            fault.message_type, fault.category, fault.queue, fault.detail
        );
        self.answer(tx, order, step, &Outcome::Faulted(reason), None)
            .await
    }

    async fn answer(
        &self,
        tx: &mut PgConnection,
        order: Uuid,
        step: Step,
        outcome: &Outcome,
        reply: Option<&StepReply>,
    ) -> Result<(), Failure> {
        let Some((order, row)) = store::lock_with_saga(tx, order).await? else {
            return match outcome {
                // Nothing to tell: a fault about a reply for no saga ends here.
                Outcome::Faulted(_) => Ok(()),
                _ => Err(Failure::Reject(format!("no saga for order {order}"))),
            };
        };
        let awaited = row
            .saga()
            .is_some_and(|saga| saga.state.is_active() && saga.step == step);
        if !awaited {
            // An answer to an earlier attempt, or to a step the saga has left behind.
            tracing::debug!(order = %order.id, %step, "stale reply ignored");
            return Ok(());
        }
        orchestrator::advance(tx, &order, &row, outcome, reply, &self.policy).await?;
        Ok(())
    }
}
