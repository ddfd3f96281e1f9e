//! Dead letters for operators: listed without being disturbed, replayed onto their queue or
//! discarded one by one, and a replayed message handled like any other.

use std::time::{Duration, Instant};

use lapin::{
    BasicProperties,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable, LongString},
};
use messaging::{
    Amqp, Broker, Envelope,
    dead_letters::{DeadLetterError, DeadLetters, counts},
    testing::TestBroker,
    topology::{Exchange, PAYMENT_SERVICE, QUEUES, QueueSpec, Topology},
};
use uuid::Uuid;

use crate::helpers::{PROBE, Plan, Recorder, TestStores, header, int_header};

/// A broker namespace with the probe queue declared, and its dead letters as operators see
/// them.
async fn namespace(broker: &TestBroker) -> (Broker, DeadLetters) {
    let (_connection, channel) = broker.channel().await;
    let topology = broker.topology();
    topology.declare(&channel).await.expect("the topology");
    topology
        .declare_queue(&channel, &PROBE)
        .await
        .expect("the probe queue");
    connected(broker).await
}

/// A connection of a binary's own to `broker`, once it is up.
async fn connected(broker: &TestBroker) -> (Broker, DeadLetters) {
    let binary = Broker::start(&broker.args(), "dead-letters-test");
    let deadline = Instant::now() + Duration::from_secs(10);
    while binary.connection().check().await.is_err() {
        assert!(Instant::now() < deadline, "never connected to the broker");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead_letters = DeadLetters::of(&binary, PROBE);
    (binary, dead_letters)
}

/// Puts `body` in the probe queue's dead letters as the consumer would have: rejected on
/// its third attempt, first published to `domain.events` as `probe.happened`.
async fn bury(broker: &TestBroker, body: &[u8], message_id: &str) {
    bury_in(broker, &PROBE, body, message_id).await;
}

/// Puts `body` in `queue`'s dead letters, as [`bury`] does.
async fn bury_in(broker: &TestBroker, queue: &QueueSpec, body: &[u8], message_id: &str) {
    let topology = broker.topology();
    let text = |value: &str| AMQPValue::LongString(LongString::from(value));
    let mut headers = FieldTable::default();
    headers.insert("x-dead-reason".into(), text("rejected"));
    headers.insert("x-dead-detail".into(), text("never applicable"));
    headers.insert("x-attempt".into(), AMQPValue::LongLongInt(3));
    headers.insert(
        "x-original-exchange".into(),
        text(&topology.exchange(Exchange::DomainEvents)),
    );
    headers.insert("x-original-routing-key".into(), text("probe.happened"));
    headers.insert("x-dead-at".into(), text("2025-01-02T03:04:05+00:00"));
    let properties = BasicProperties::default()
        .with_message_id(message_id.into())
        .with_delivery_mode(2)
        .with_headers(headers);
    let (_connection, channel) = broker.channel().await;
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    channel
        .basic_publish(
            "",
            &topology.dead_letters(queue),
            BasicPublishOptions::default(),
            body,
            properties,
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
}

/// Buries `count` envelopes; returns their ids, oldest first.
async fn bury_envelopes(broker: &TestBroker, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let envelope = messaging::testing::envelope(
            "probe.happened",
            "aggregate-1",
            serde_json::json!({ "n": n }),
        );
        let body = serde_json::to_vec(&envelope).expect("json");
        bury(broker, &body, &envelope.id.to_string()).await;
        ids.push(envelope.id.to_string());
    }
    ids
}

/// The ids of the dead letters listed, in order.
async fn listed(dead_letters: &DeadLetters) -> Vec<String> {
    dead_letters
        .list(100)
        .await
        .expect("listed")
        .into_iter()
        .filter_map(|letter| letter.message_id)
        .collect()
}

#[tokio::test]
async fn listing_leaves_every_dead_letter_in_place_and_in_order() {
    let broker = TestBroker::new().with_queue(PROBE);
    let (_binary, dead_letters) = namespace(&broker).await;
    let mut ids = bury_envelopes(&broker, 5).await;
    bury(&broker, b"not json at all", "foreign-1").await;
    ids.push("foreign-1".to_owned());

    let letters = dead_letters.list(100).await.expect("listed");
    assert_eq!(letters.len(), 6);
    let first = &letters[0];
    assert_eq!(first.kind.as_deref(), Some("probe.happened"));
    assert_eq!(first.aggregate_id.as_deref(), Some("aggregate-1"));
    assert_eq!(first.payload, Some(serde_json::json!({ "n": 0 })));
    assert_eq!(first.reason.as_deref(), Some("rejected"));
    assert_eq!(first.detail.as_deref(), Some("never applicable"));
    assert_eq!(first.attempts, 3);
    assert_eq!(
        first.dead_at.map(|at| at.to_rfc3339()).as_deref(),
        Some("2025-01-02T03:04:05+00:00")
    );
    assert_eq!(
        first.original_routing_key.as_deref(),
        Some("probe.happened")
    );
    assert!(
        first
            .original_exchange
            .as_deref()
            .is_some_and(|name| name.ends_with("domain.events"))
    );
    let foreign = &letters[5];
    assert_eq!(foreign.body.as_deref(), Some("not json at all"));
    assert_eq!(foreign.payload, None);

    assert_eq!(
        listed(&dead_letters).await,
        ids,
        "the second look sees the same"
    );
    let first_two: Vec<_> = dead_letters
        .list(2)
        .await
        .expect("listed")
        .into_iter()
        .filter_map(|letter| letter.message_id)
        .collect();
    assert_eq!(first_two, ids[..2]);
    assert_eq!(dead_letters.count().await.expect("counted"), 6);
    let kept: Vec<_> = broker
        .drain(&dead_letters.queue_name(), 6, Duration::from_secs(5))
        .await
        .iter()
        .filter_map(|message| message.delivery.properties.message_id().clone())
        .map(|id| id.to_string())
        .collect();
    assert_eq!(kept, ids, "all still there, in their order");
}

#[tokio::test]
async fn a_replayed_dead_letter_goes_back_to_its_queue_with_its_id_and_attempt_one() {
    let broker = TestBroker::new().with_queue(PROBE);
    let (_binary, dead_letters) = namespace(&broker).await;
    let ids = bury_envelopes(&broker, 3).await;

    let replayed = dead_letters.replay(&ids[1]).await.expect("replayed");
    assert_eq!(replayed.message_id.as_deref(), Some(ids[1].as_str()));

    let queue = broker.topology().queue(&PROBE);
    let back = broker.drain(&queue, 1, Duration::from_secs(5)).await;
    assert_eq!(back.len(), 1);
    let envelope = Envelope::decode(&back[0].delivery.data).expect("the same envelope");
    assert_eq!(envelope.id.to_string(), ids[1]);
    assert_eq!(
        back[0]
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(ToString::to_string),
        Some(ids[1].clone())
    );
    assert_eq!(int_header(&back[0], "x-attempt"), Some(1));
    assert!(header(&back[0], "x-replayed-at").is_some());
    assert_eq!(
        header(&back[0], "x-original-routing-key").as_deref(),
        Some("probe.happened"),
        "the other headers are kept"
    );
    assert_eq!(
        listed(&dead_letters).await,
        [ids[0].clone(), ids[2].clone()]
    );
}

#[tokio::test]
async fn discarding_removes_only_that_dead_letter() {
    let broker = TestBroker::new().with_queue(PROBE);
    let (_binary, dead_letters) = namespace(&broker).await;
    let ids = bury_envelopes(&broker, 3).await;

    let discarded = dead_letters.discard(&ids[0]).await.expect("discarded");
    assert_eq!(discarded.message_id.as_deref(), Some(ids[0].as_str()));

    assert_eq!(listed(&dead_letters).await, ids[1..]);
    let queue = broker.topology().queue(&PROBE);
    assert!(
        broker.drain(&queue, 0, Duration::ZERO).await.is_empty(),
        "nothing was replayed"
    );
}

#[tokio::test]
async fn an_unknown_id_is_not_found_and_disturbs_nothing() {
    let broker = TestBroker::new().with_queue(PROBE);
    let (_binary, dead_letters) = namespace(&broker).await;
    let ids = bury_envelopes(&broker, 2).await;
    let unknown = Uuid::now_v7().to_string();

    assert!(matches!(
        dead_letters.replay(&unknown).await,
        Err(DeadLetterError::NotFound { message_id, .. }) if message_id == unknown
    ));
    assert!(matches!(
        dead_letters.discard(&unknown).await,
        Err(DeadLetterError::NotFound { .. })
    ));
    assert_eq!(listed(&dead_letters).await, ids);
}

#[tokio::test]
async fn counts_name_every_queue_and_a_queue_not_declared_yet_has_none() {
    let broker = TestBroker::new().with_queue(PROBE);
    let (binary, dead_letters) = connected(&broker).await;
    assert_eq!(dead_letters.count().await.expect("counted"), 0);
    assert!(dead_letters.list(10).await.expect("listed").is_empty());

    let (_, dead_letters) = namespace(&broker).await;
    bury_envelopes(&broker, 2).await;
    assert_eq!(dead_letters.count().await.expect("counted"), 2);
    for _ in 0..3 {
        bury_in(
            &broker,
            &PAYMENT_SERVICE,
            b"{}",
            &Uuid::now_v7().to_string(),
        )
        .await;
    }
    let counts = counts(binary.connection(), binary.topology())
        .await
        .expect("counted");
    let names: Vec<_> = counts.keys().map(String::as_str).collect();
    let mut expected: Vec<_> = QUEUES.iter().map(|queue| queue.name).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for (queue, count) in &counts {
        let wanted = if queue == PAYMENT_SERVICE.name { 3 } else { 0 };
        assert_eq!(*count, wanted, "{queue}");
    }
}

#[tokio::test]
async fn a_dead_letter_replayed_once_fixed_is_applied_and_a_replay_of_it_again_changes_nothing() {
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let (binary, dead_letters) = connected(&stores.broker).await;
    let rejecting = binary
        .workers()
        .consume(PROBE, Recorder::new(&stores.outbox, Plan::Reject));
    let envelope =
        messaging::testing::envelope("probe.happened", "aggregate-1", serde_json::json!({}));
    let body = serde_json::to_vec(&envelope).expect("json");
    let id = envelope.id.to_string();
    stores.publish("probe.happened", &body).await;
    let letters = &dead_letters;
    wait_until(|| async move { letters.count().await.ok() == Some(1) }).await;
    rejecting.shutdown().await;

    let (binary, dead_letters) = connected(&stores.broker).await;
    let recorder = Recorder::new(&stores.outbox, Plan::Succeed);
    let workers = binary.workers().consume(PROBE, recorder.clone());
    dead_letters.replay(&id).await.expect("replayed");
    assert_eq!(
        stores.wait_for_effects(1, Duration::from_secs(10)).await,
        (1, 1)
    );
    assert!(dead_letters.list(10).await.expect("listed").is_empty());

    // A copy left in the dead letters after the message was applied.
    bury(&stores.broker, &body, &id).await;
    dead_letters.replay(&id).await.expect("replayed again");
    let broker = &stores.broker;
    wait_until(|| async move {
        let queue = broker.topology().queue(&PROBE);
        let (_connection, channel) = broker.channel().await;
        channel
            .queue_declare(
                &queue,
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .is_ok_and(|queue| queue.message_count() == 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stores.effects().await, (1, 1), "not applied twice");
    assert_eq!(recorder.calls_of(envelope.id), 1, "recognised as processed");
    workers.shutdown().await;
}

#[tokio::test]
async fn without_the_broker_every_operation_says_it_is_not_connected() {
    let amqp = Amqp::start("amqp://guest:guest@127.0.0.1:1/%2f", "dead-letters-test");
    let dead_letters = DeadLetters::new(amqp.clone(), Topology::new("nowhere."), PROBE);
    let id = Uuid::now_v7().to_string();
    assert!(matches!(
        dead_letters.count().await,
        Err(DeadLetterError::NotConnected)
    ));
    assert!(matches!(
        dead_letters.list(10).await,
        Err(DeadLetterError::NotConnected)
    ));
    assert!(matches!(
        dead_letters.replay(&id).await,
        Err(DeadLetterError::NotConnected)
    ));
    assert!(matches!(
        dead_letters.discard(&id).await,
        Err(DeadLetterError::NotConnected)
    ));
    amqp.close().await;
}

async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "the condition never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
