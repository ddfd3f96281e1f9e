//! How the run learns that an order ended: a queue of its own bound to `order.confirmed`,
//! `order.rejected` and `order.cancelled`, each event handed to the client waiting for it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicConsumeOptions, QueueDeclareOptions},
    types::FieldTable,
};
use messaging::{
    Envelope,
    topology::{Exchange, Topology},
};
use tokio::sync::oneshot;

use super::Args;

/// Ends seen, handed to whoever waits for them.
#[derive(Debug, Clone, Default)]
pub struct Endings {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    waiting: HashMap<String, oneshot::Sender<(String, Instant)>>,
    /// Ends that arrived before anyone waited for them (before the `POST` returned).
    early: HashMap<String, (String, Instant)>,
}

impl Endings {
    /// Starts listening; the queue goes away with the connection.
    pub async fn watch(args: &Args) -> Result<Self, String> {
        let connection = Connection::connect(&args.amqp_url, ConnectionProperties::default())
            .await
            .map_err(|err| format!("the broker: {err}"))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|err| err.to_string())?;
        let topology = Topology::new(&args.amqp_prefix);
        topology
            .declare(&channel)
            .await
            .map_err(|err| err.to_string())?;
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|err| err.to_string())?;
        for key in ["order.confirmed", "order.rejected", "order.cancelled"] {
            channel
                .queue_bind(
                    queue.name().as_str(),
                    &topology.exchange(Exchange::DomainEvents),
                    key,
                    Default::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|err| err.to_string())?;
        }
        let mut deliveries = channel
            .basic_consume(
                queue.name().as_str(),
                "bench-saga",
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|err| err.to_string())?;
        let endings = Self::default();
        let seen = endings.clone();
        tokio::spawn(async move {
            let _connection = connection;
            while let Some(Ok(delivery)) = deliveries.next().await {
                if let Ok(event) = Envelope::decode(&delivery.data) {
                    seen.ended(event.aggregate_id, event.kind, Instant::now());
                }
            }
        });
        Ok(endings)
    }

    fn ended(&self, order: String, kind: String, at: Instant) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match state.waiting.remove(&order) {
            Some(waiter) => {
                let _ = waiter.send((kind, at));
            }
            None => {
                state.early.insert(order, (kind, at));
            }
        }
    }

    /// Waits up to `limit` for `order` to end; how, and when.
    pub async fn wait(&self, order: &str, limit: Duration) -> Result<(String, Instant), String> {
        let receiver = {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(ended) = state.early.remove(order) {
                return Ok(ended);
            }
            let (sender, receiver) = oneshot::channel();
            state.waiting.insert(order.to_owned(), sender);
            receiver
        };
        match tokio::time::timeout(limit, receiver).await {
            Ok(Ok(ended)) => Ok(ended),
            _ => {
                self.state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .waiting
                    .remove(order);
                Err(format!("{order} did not end within {limit:?}"))
            }
        }
    }
}
