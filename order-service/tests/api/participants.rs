//! payment-service and delivery-service as the saga sees them: a consumer of its commands on
//! the test's broker namespace that answers each one, as told.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use lapin::{
    BasicProperties,
    options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions},
    types::FieldTable,
};
use messaging::{
    Envelope,
    testing::TestBroker,
    topology::{Exchange, QueueSpec},
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every saga command, whichever participant it is for.
const COMMANDS: QueueSpec = QueueSpec {
    name: "test-commands",
    bindings: &[(Exchange::SagaCommands, "#")],
};

/// The fake participants and what they were asked.
#[derive(Debug, Clone)]
pub struct FakeParticipants {
    /// The courier every shipment gets.
    pub courier: Uuid,
    /// Every command received: its type and its order.
    pub commands: Arc<Mutex<Vec<(String, String)>>>,
    /// Command types left unanswered.
    pub silent: Arc<Mutex<HashSet<String>>>,
    /// Command types given up on: answered with a fault, as a dead-lettering consumer does.
    pub faulty: Arc<Mutex<HashSet<String>>>,
    /// No courier is free.
    pub no_courier: Arc<AtomicBool>,
    /// Shipments cannot be cancelled (the courier has the food).
    pub shipments_stuck: Arc<AtomicBool>,
}

impl FakeParticipants {
    /// Starts answering the saga commands published under `broker`'s prefix.
    pub async fn start(broker: &mut TestBroker) -> Self {
        broker.declare(COMMANDS).await;
        let participants = Self {
            courier: Uuid::now_v7(),
            commands: Arc::default(),
            silent: Arc::default(),
            faulty: Arc::default(),
            no_courier: Arc::default(),
            shipments_stuck: Arc::default(),
        };
        let (connection, channel) = broker.channel().await;
        let mut deliveries = channel
            .basic_consume(
                &broker.topology().queue(&COMMANDS),
                "fake-participants",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consuming the commands");
        let replies = broker.topology().exchange(Exchange::SagaReplies);
        let answering = participants.clone();
        tokio::spawn(async move {
            let _connection = connection;
            while let Some(Ok(delivery)) = deliveries.next().await {
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                let Ok(command) = Envelope::decode(&delivery.data) else {
                    continue;
                };
                let Some((kind, payload)) = answering.answer(&command) else {
                    continue;
                };
                let reply = messaging::testing::envelope(kind, &command.aggregate_id, payload);
                let body = serde_json::to_vec(&reply).expect("json");
                let _ = channel
                    .basic_publish(
                        &replies,
                        kind,
                        BasicPublishOptions::default(),
                        &body,
                        BasicProperties::default(),
                    )
                    .await;
            }
        });
        participants
    }

    /// Leaves commands of type `kind` unanswered (or answers them again).
    pub fn silence(&self, kind: &str, silent: bool) {
        let mut set = self.silent.lock().expect("not poisoned");
        if silent {
            set.insert(kind.to_owned());
        } else {
            set.remove(kind);
        }
    }

    /// Answers commands of type `kind` with a fault (or answers them again).
    pub fn fault(&self, kind: &str, faulty: bool) {
        let mut set = self.faulty.lock().expect("not poisoned");
        if faulty {
            set.insert(kind.to_owned());
        } else {
            set.remove(kind);
        }
    }

    /// The types of the commands received about `order`, in order.
    pub fn commands_for(&self, order: &str) -> Vec<String> {
        self.commands
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|(_, about)| about == order)
            .map(|(kind, _)| kind.clone())
            .collect()
    }

    /// Waits up to ten seconds for `count` commands about `order`.
    pub async fn wait_for_commands(&self, order: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.commands_for(order);
            if seen.len() >= count || Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn answer(&self, command: &Envelope) -> Option<(&'static str, Value)> {
        self.commands
            .lock()
            .expect("not poisoned")
            .push((command.kind.clone(), command.aggregate_id.clone()));
        if self
            .silent
            .lock()
            .expect("not poisoned")
            .contains(&command.kind)
        {
            return None;
        }
        if self
            .faulty
            .lock()
            .expect("not poisoned")
            .contains(&command.kind)
        {
            let fault = json!({
                "message_id": command.id, "message_type": command.kind, "queue": "fake-participant",
                "category": "rejected", "detail": "the fake participant gives up on it",
            });
            return Some(("saga.fault", fault));
        }
        let order = &command.payload["order_id"];
        let method = command.payload["payment_method"]
            .as_str()
            .unwrap_or_default();
        let failed = |reason: &str| json!({"order_id": order, "reason": reason});
        let done = json!({"order_id": order, "amount": command.payload["amount"]});
        Some(match command.kind.as_str() {
            "payment.authorize" if method == "pm_card_declined" => {
                ("payment.declined", failed("card_declined"))
            }
            "payment.authorize" => ("payment.authorized", done),
            "payment.capture" if method == "pm_card_capture_fails" => {
                ("payment.capture_failed", failed("capture_failed"))
            }
            "payment.capture" => ("payment.captured", done),
            "payment.void" => ("payment.voided", done),
            "payment.refund" => ("payment.refunded", done),
            "shipping.create" if self.no_courier.load(Ordering::SeqCst) => {
                ("shipping.failed", failed("no_courier_available"))
            }
            "shipping.create" => (
                "shipping.created",
                json!({"order_id": order, "courier_id": self.courier, "shipment_id": Uuid::now_v7()}),
            ),
            "shipping.cancel" if self.shipments_stuck.load(Ordering::SeqCst) => {
                ("shipping.cancel_failed", failed("picked_up"))
            }
            "shipping.cancel" => ("shipping.cancelled", json!({"order_id": order})),
            _ => return None,
        })
    }
}
