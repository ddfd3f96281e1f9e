//! Commands sent twice: a tap on `saga.commands` publishes again some of the commands it
//! sees, with the same id (a redelivery, handled concurrently with the first by a consumer
//! with a prefetch) or with a new one (the saga's timer resending), as a network that
//! duplicates would.

use std::time::Duration;

use futures::StreamExt;
use lapin::{
    BasicProperties,
    options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions},
    types::{AMQPValue, FieldTable},
};
use lapin::{Connection, ConnectionProperties};
use messaging::{
    Envelope,
    topology::{Exchange, QueueSpec, Topology},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use uuid::Uuid;

use super::history::History;

/// The tap: every saga command.
pub const TAP: QueueSpec = QueueSpec {
    name: "chaos-tap",
    bindings: &[(Exchange::SagaCommands, "#")],
};

/// Marks a copy, so that the tap does not copy it again.
const COPY: &str = "x-chaos-copy";

/// Copies commands from `seed` until `until`: about one in `one_in`, half of those with the
/// same id. The tap must have been declared on the broker at `url` (see
/// `TestBroker::declare`).
pub async fn duplicate(
    url: String,
    topology: Topology,
    seed: u64,
    one_in: u32,
    until: Duration,
    history: History,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let Ok(connection) = Connection::connect(&url, ConnectionProperties::default()).await else {
        history.note("the broker could not be reached: no commands were sent twice");
        return;
    };
    let Ok(channel) = connection.create_channel().await else {
        history.note("no channel on the broker: no commands were sent twice");
        return;
    };
    let Ok(mut deliveries) = channel
        .basic_consume(
            &topology.queue(&TAP),
            "chaos-copies",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    else {
        history.note("the command tap could not be consumed: no commands were sent twice");
        return;
    };
    let exchange = topology.exchange(Exchange::SagaCommands);
    let mut copied = 0_usize;
    loop {
        let next = tokio::time::timeout(Duration::from_millis(500), deliveries.next()).await;
        if history.now() >= until {
            break;
        }
        let Ok(Some(Ok(delivery))) = next else {
            continue;
        };
        let _ = delivery.acker.ack(BasicAckOptions::default()).await;
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        if headers.inner().contains_key(COPY) || rng.gen_range(0..one_in) != 0 {
            continue;
        }
        let Ok(mut envelope) = Envelope::decode(&delivery.data) else {
            continue;
        };
        let same_id = rng.gen_bool(0.5);
        if !same_id {
            envelope.id = Uuid::now_v7();
        }
        let mut marked = headers;
        marked.insert(COPY.into(), AMQPValue::Boolean(true));
        let properties = BasicProperties::default()
            .with_message_id(envelope.id.to_string().into())
            .with_type(envelope.kind.as_str().into())
            .with_delivery_mode(2)
            .with_headers(marked);
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let sent = channel
            .basic_publish(
                &exchange,
                &envelope.kind,
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await;
        if sent.is_ok() {
            copied += 1;
            let how = if same_id { "same id" } else { "new id" };
            history.order(
                &envelope.aggregate_id,
                format!("{} sent again ({how})", envelope.kind),
            );
        }
    }
    history.note(format!("{copied} commands were sent twice"));
}
