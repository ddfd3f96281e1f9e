//! Consumers: each message applied once, failures retried after delays and then
//! dead-lettered with the reason, and nothing lost or applied twice when connections are cut.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use messaging::{Broker, Envelope};
use shared::testing::TcpProxy;
use uuid::Uuid;

use crate::helpers::{PROBE, Plan, Recorder, TestStores, header, int_header};

fn envelope(kind: &str) -> (Uuid, Vec<u8>) {
    let envelope = Envelope {
        id: Uuid::now_v7(),
        kind: kind.into(),
        occurred_at: chrono::Utc::now(),
        aggregate_id: "aggregate-1".into(),
        payload: serde_json::json!({}),
    };
    (envelope.id, serde_json::to_vec(&envelope).expect("json"))
}

async fn consuming(stores: &TestStores, plan: Plan) -> (Recorder, messaging::Workers) {
    let recorder = Recorder::new(&stores.outbox, plan);
    let broker = Broker::start(&stores.broker.args(), "consumer-test");
    let workers = broker.workers().consume(PROBE, recorder.clone());
    stores.declare_probe().await;
    (recorder, workers)
}

#[tokio::test]
async fn a_message_delivered_twice_is_applied_once() {
    let stores = TestStores::new().await;
    let (recorder, workers) = consuming(&stores, Plan::Succeed).await;
    let (id, body) = envelope("probe.happened");
    for _ in 0..2 {
        stores.publish("probe.happened", &body).await;
    }
    assert_eq!(
        stores.wait_for_effects(1, Duration::from_secs(10)).await,
        (1, 1)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stores.effects().await,
        (1, 1),
        "the second delivery changed nothing"
    );
    assert_eq!(
        recorder.calls_of(id),
        1,
        "the handler never saw the duplicate"
    );
    let marked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM processed_messages WHERE message_id = $1")
            .bind(id)
            .fetch_one(&stores.pool)
            .await
            .expect("counted");
    assert_eq!(marked, 1);
    workers.shutdown().await;
}

#[tokio::test]
async fn a_message_that_fails_once_is_applied_on_its_retry() {
    let stores = TestStores::new().await;
    let (recorder, workers) = consuming(&stores, Plan::FailFirst(1)).await;
    let (id, body) = envelope("probe.happened");
    stores.publish("probe.happened", &body).await;
    assert_eq!(
        stores.wait_for_effects(1, Duration::from_secs(10)).await,
        (1, 1)
    );
    assert_eq!(recorder.calls_of(id), 2);
    let dead = stores.dead_letters(1, Duration::from_millis(300)).await;
    assert!(dead.is_empty());
    workers.shutdown().await;
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered_with_the_reason_after_every_delay() {
    let stores = TestStores::new().await;
    let (recorder, workers) = consuming(&stores, Plan::AlwaysRetry).await;
    let (id, body) = envelope("probe.happened");
    let started = Instant::now();
    stores.publish("probe.happened", &body).await;
    let dead = stores.dead_letters(1, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1, "dead-lettered");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited both delays (100 ms and 200 ms) first"
    );
    let message = &dead[0];
    assert_eq!(
        Envelope::decode(&message.delivery.data).expect("intact").id,
        id
    );
    assert_eq!(
        header(message, "x-dead-reason").as_deref(),
        Some("attempts-exhausted")
    );
    assert!(
        header(message, "x-dead-detail").is_some_and(|detail| detail.contains("always failing")),
        "{:?}",
        header(message, "x-dead-detail")
    );
    assert_eq!(int_header(message, "x-attempt"), Some(3));
    assert_eq!(
        header(message, "x-original-routing-key").as_deref(),
        Some("probe.happened")
    );
    assert_eq!(
        recorder.calls_of(id),
        3,
        "the first attempt and one after each delay"
    );
    assert_eq!(stores.effects().await, (0, 0));
    workers.shutdown().await;
}

#[tokio::test]
async fn a_message_that_can_never_be_handled_is_dead_lettered_at_once() {
    let stores = TestStores::new().await;
    let (recorder, workers) = consuming(&stores, Plan::Reject).await;
    let (id, body) = envelope("probe.happened");
    stores.publish("probe.happened", &body).await;
    let dead = stores.dead_letters(1, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        header(&dead[0], "x-dead-reason").as_deref(),
        Some("rejected")
    );
    assert_eq!(recorder.calls_of(id), 1, "no retry");
    workers.shutdown().await;
}

#[tokio::test]
async fn a_message_that_is_no_envelope_is_dead_lettered_at_once_and_never_handled() {
    let stores = TestStores::new().await;
    let (recorder, workers) = consuming(&stores, Plan::Succeed).await;
    stores.publish("probe.garbage", b"not json").await;
    let dead = stores.dead_letters(1, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.data, b"not json");
    assert_eq!(
        header(&dead[0], "x-dead-reason").as_deref(),
        Some("undecodable")
    );
    assert!(recorder.calls.lock().expect("not poisoned").is_empty());
    workers.shutdown().await;
}

#[tokio::test]
async fn cut_broker_connections_lose_nothing_and_apply_nothing_twice() {
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let (url, proxy) = messaging::testing::proxied_amqp_url().await;
    let recorder = Recorder::new(&stores.outbox, Plan::Succeed);
    let broker = Broker::start(&stores.broker.args_via(&url), "cut-test");
    let workers = broker
        .workers()
        .relay(&stores.outbox)
        .consume(PROBE, recorder.clone());
    let total = 300;
    for n in 0..total {
        stores.announce(&format!("aggregate-{}", n % 7), n).await;
        if n == 100 || n == 200 {
            proxy.cut();
            tokio::time::sleep(Duration::from_millis(500)).await;
            proxy.restore();
        }
    }
    let (applied, distinct) = stores
        .wait_for_effects(total as i64, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((applied, distinct), (total as i64, total as i64));
    assert_eq!(
        stores.effects().await.0,
        total as i64,
        "nothing applied twice later"
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn a_message_whose_store_is_away_comes_back_until_it_answers_and_is_never_dead_lettered() {
    let stores = TestStores::new().await;
    // Two delays in these tests: a dead letter would come on the third failure.
    let (recorder, workers) = consuming(&stores, Plan::UnavailableFirst(6)).await;
    let (id, body) = envelope("probe.happened");
    stores.publish("probe.happened", &body).await;
    assert_eq!(
        stores.wait_for_effects(1, Duration::from_secs(20)).await,
        (1, 1)
    );
    assert_eq!(recorder.calls_of(id), 7);
    assert!(
        stores
            .dead_letters(1, Duration::from_millis(300))
            .await
            .is_empty()
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn a_database_cut_for_longer_than_every_delay_loses_no_message() {
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().expect("an address")).await;
    let options = stores
        ._database
        .options()
        .host("127.0.0.1")
        .port(proxy.port());
    let through_proxy = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy_with(options);
    let outbox = messaging::Outbox::new(through_proxy, "probe-through-proxy");
    let recorder = Recorder::new(&outbox, Plan::Succeed);
    let broker = Broker::start(&stores.broker.args(), "consumer-test");
    proxy.cut();
    let workers = broker.workers().consume(PROBE, recorder.clone());
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (id, body) = envelope("probe.happened");
        stores.publish("probe.happened", &body).await;
        ids.push(id);
    }
    // Each has failed more often than there are delays before the database comes back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids.iter().any(|id| recorder.calls_of(*id) < 4) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ids.iter().all(|id| recorder.calls_of(*id) == 0),
        "never handled while cut"
    );
    proxy.restore();
    assert_eq!(
        stores.wait_for_effects(5, Duration::from_secs(20)).await,
        (5, 5)
    );
    assert!(
        stores
            .dead_letters(1, Duration::from_millis(300))
            .await
            .is_empty()
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn a_saga_command_given_up_on_is_reported_to_the_saga_as_a_fault_before_it_is_dead_lettered()
{
    let mut stores = TestStores::new().await;
    stores.broker.declare(messaging::testing::REPLIES).await;
    let (recorder, workers) = consuming(&stores, Plan::Reject).await;
    let command = messaging::testing::envelope(
        "probe.refund",
        "order-1",
        serde_json::json!({"order_id": "order-1"}),
    );
    stores
        .broker
        .send(messaging::topology::Exchange::SagaCommands, &command)
        .await;

    let faults = stores
        .broker
        .envelopes(&messaging::testing::REPLIES, 1, Duration::from_secs(10))
        .await;
    assert_eq!(faults.len(), 1, "one fault");
    let fault = &faults[0];
    assert_eq!(fault.kind, "saga.fault");
    assert_eq!(fault.aggregate_id, "order-1");
    let reported: messaging::contracts::Fault = fault.payload().expect("a fault");
    assert_eq!(reported.message_id, command.id);
    assert_eq!(reported.message_type, "probe.refund");
    assert_eq!(reported.queue, "probe");
    assert_eq!(reported.category, "rejected");
    assert!(reported.detail.contains("never applicable"), "{reported:?}");
    let dead = stores.dead_letters(1, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1, "and the command is dead-lettered");
    assert_eq!(recorder.calls_of(command.id), 1);

    // An event given up on concerns no saga: no fault.
    let (_, body) = envelope("probe.happened");
    stores.publish("probe.happened", &body).await;
    assert_eq!(
        stores.dead_letters(1, Duration::from_secs(10)).await.len(),
        1
    );
    assert!(
        stores
            .broker
            .envelopes(&messaging::testing::REPLIES, 1, Duration::from_millis(500))
            .await
            .is_empty(),
        "no fault for an event"
    );
    workers.shutdown().await;
}

/// A seeded schedule of cuts of the broker's link at random moments and of random lengths,
/// while messages are written all along it and each is retried once through a delay queue:
/// whenever the link goes (mid-publish, mid-confirm, mid-acknowledgement, mid-move), every
/// message is applied exactly once and nothing stays stuck. `CUT_SEED` replays a schedule.
#[tokio::test]
async fn messages_are_applied_once_each_however_often_and_whenever_the_broker_is_cut() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("CUT_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("broker cuts: CUT_SEED={seed}");
    let mut random = rand::rngs::SmallRng::seed_from_u64(seed);
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let (url, proxy) = messaging::testing::proxied_amqp_url().await;
    let recorder = Recorder::new(&stores.outbox, Plan::FailFirst(1));
    let broker = Broker::start(&stores.broker.args_via(&url), "random-cuts-test");
    let workers = broker
        .workers()
        .relay(&stores.outbox)
        .consume(PROBE, recorder.clone());
    let cuts: Vec<(u64, u64)> = (0..25)
        .map(|_| (random.gen_range(0..300), random.gen_range(0..250)))
        .collect();
    let cutting = AtomicBool::new(true);
    let cut = async {
        for (open, cut) in cuts {
            tokio::time::sleep(Duration::from_millis(open)).await;
            proxy.cut();
            tokio::time::sleep(Duration::from_millis(cut)).await;
            proxy.restore();
        }
        cutting.store(false, Ordering::SeqCst);
    };
    // Messages written for as long as the cuts last, a few at a time, so that every cut
    // finds some on their way.
    let write = async {
        let mut total = 0;
        while cutting.load(Ordering::SeqCst) {
            for _ in 0..5 {
                stores
                    .announce(&format!("aggregate-{}", total % 7), total)
                    .await;
                total += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        total
    };
    let ((), total) = tokio::join!(cut, write);
    let total = total as i64;
    let (applied, distinct) = stores
        .wait_for_effects(total, Duration::from_secs(90))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (applied, distinct),
        (total, total),
        "applications and distinct messages, CUT_SEED={seed}"
    );
    assert_eq!(
        stores.effects().await.0,
        total,
        "nothing applied twice later, CUT_SEED={seed}"
    );
    workers.shutdown().await;
}
