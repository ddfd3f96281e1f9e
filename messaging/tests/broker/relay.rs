//! The relay: what is committed is published, in order, confirmed and marked; what is rolled
//! back is not; the backlog shows in the metrics while the broker is away.

use std::time::{Duration, Instant};

use messaging::{Broker, Envelope, Message, enqueue};

use crate::helpers::{PROBE, TestStores};

#[tokio::test]
async fn committed_messages_are_published_in_order_and_marked_sent() {
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let broker = Broker::start(&stores.broker.args(), "relay-test");
    let workers = broker.workers().relay(&stores.outbox);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(stores.announce("aggregate-1", n).await);
    }

    let received = stores
        .broker
        .drain(
            &stores.broker.topology().queue(&PROBE),
            5,
            Duration::from_secs(10),
        )
        .await;
    let envelopes: Vec<Envelope> = received
        .iter()
        .map(|message| Envelope::decode(&message.delivery.data).expect("an envelope"))
        .collect();
    let order: Vec<i64> = envelopes
        .iter()
        .map(|envelope| envelope.payload["n"].as_i64().expect("n"))
        .collect();
    assert_eq!(order, [0, 1, 2, 3, 4]);
    assert_eq!(envelopes.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    let first = &received[0].delivery;
    assert_eq!(envelopes[0].kind, "probe.happened");
    assert_eq!(envelopes[0].aggregate_id, "aggregate-1");
    assert_eq!(first.routing_key.as_str(), "probe.happened");
    assert_eq!(
        first
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        Some(ids[0].to_string())
    );
    assert_eq!(*first.properties.delivery_mode(), Some(2), "persistent");

    let unsent: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&stores.pool)
        .await
        .expect("counted");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut unsent = unsent;
    while unsent > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        unsent = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&stores.pool)
            .await
            .expect("counted");
    }
    assert_eq!(unsent, 0, "every confirmed row is marked sent");
    workers.shutdown().await;
}

#[tokio::test]
async fn a_rolled_back_transaction_publishes_nothing() {
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let broker = Broker::start(&stores.broker.args(), "relay-test");
    let workers = broker.workers().relay(&stores.outbox);
    let mut transaction = stores.pool.begin().await.expect("a transaction");
    enqueue(
        &mut transaction,
        &Message::event("probe.rolled_back", "aggregate-1", serde_json::json!({})),
    )
    .await
    .expect("enqueued");
    transaction.rollback().await.expect("rolled back");
    let marker = stores.announce("aggregate-1", 1).await;

    let received = stores
        .broker
        .drain(
            &stores.broker.topology().queue(&PROBE),
            2,
            Duration::from_secs(3),
        )
        .await;
    let ids: Vec<_> = received
        .iter()
        .map(|message| {
            Envelope::decode(&message.delivery.data)
                .expect("an envelope")
                .id
        })
        .collect();
    assert_eq!(ids, [marker]);
    workers.shutdown().await;
}

#[tokio::test]
async fn the_backlog_and_its_age_show_in_the_metrics_while_the_broker_is_away() {
    let stores = TestStores::new().await;
    let (url, proxy) = messaging::testing::proxied_amqp_url().await;
    proxy.cut();
    let broker = Broker::start(&stores.broker.args_via(&url), "relay-test");
    let workers = broker.workers().relay(&stores.outbox);
    for n in 0..3 {
        stores.announce("aggregate-1", n).await;
    }
    let wanted = format!(
        "outbox_messages_pending{{outbox=\"{}\"}} 3",
        stores.outbox.label()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut rendered = String::new();
    while Instant::now() < deadline {
        rendered = shared::metrics::handle().render();
        if rendered.contains(&wanted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rendered.contains(&wanted), "{wanted} not in:\n{rendered}");
    assert!(rendered.contains(&format!(
        "outbox_oldest_message_age_seconds{{outbox=\"{}\"}}",
        stores.outbox.label()
    )));
    workers.shutdown().await;
}

#[tokio::test]
async fn shutdown_sends_what_is_left_in_the_outbox() {
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let broker = Broker::start(&stores.broker.args(), "relay-test");
    let workers = broker.workers().relay(&stores.outbox);
    let deadline = Instant::now() + Duration::from_secs(10);
    while broker.connection().check().await.is_err() {
        assert!(Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Written without waking the relay, as by another instance: only a poll or the
    // shutdown's last pass would find them.
    for n in 0..20 {
        let mut transaction = stores.pool.begin().await.expect("a transaction");
        enqueue(
            &mut transaction,
            &Message::event(
                "probe.happened",
                "aggregate-1",
                serde_json::json!({ "n": n }),
            ),
        )
        .await
        .expect("enqueued");
        transaction.commit().await.expect("committed");
    }
    workers.shutdown().await;
    let received = stores
        .broker
        .drain(
            &stores.broker.topology().queue(&PROBE),
            20,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(received.len(), 20);
}

/// A UUIDv7 made `seconds` ago.
fn id_from(seconds: u64) -> uuid::Uuid {
    let then = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        - seconds;
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, then, 0))
}

#[tokio::test]
async fn old_sent_rows_and_old_processed_marks_are_removed_and_nothing_unsent() {
    let stores = TestStores::new().await;
    let (old_sent, old_unsent, fresh_sent) = (id_from(7200), id_from(7200), id_from(10));
    for (id, sent) in [(old_sent, true), (old_unsent, false), (fresh_sent, true)] {
        sqlx::query(
            "INSERT INTO outbox (id, exchange, routing_key, message_type, aggregate_id, payload, published_at)
             VALUES ($1, 'domain.events', 'probe.kept', 'probe.kept', 'a', '{}', CASE WHEN $2 THEN now() END)",
        )
        .bind(id)
        .bind(sent)
        .execute(&stores.pool)
        .await
        .expect("a row");
    }
    let (old_mark, fresh_mark) = (id_from(3 * 86_400), id_from(60));
    for id in [old_mark, fresh_mark] {
        sqlx::query(
            "INSERT INTO processed_messages (consumer, message_id) VALUES ('payment-service', $1)",
        )
        .bind(id)
        .execute(&stores.pool)
        .await
        .expect("a mark");
    }
    stores.declare_probe().await;
    let broker = Broker::start(&stores.broker.args(), "relay-test");
    let workers = broker.workers().relay(&stores.outbox);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rows: Vec<uuid::Uuid> = Vec::new();
    while Instant::now() < deadline {
        rows = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
            .fetch_all(&stores.pool)
            .await
            .expect("rows");
        if !rows.contains(&old_sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        rows,
        [fresh_sent],
        "the old rows went once sent, the fresh one stays"
    );
    let sent = stores
        .broker
        .drain(
            &stores.broker.topology().queue(&PROBE),
            1,
            Duration::from_secs(5),
        )
        .await;
    let sent: Vec<_> = sent
        .iter()
        .map(|message| {
            Envelope::decode(&message.delivery.data)
                .expect("an envelope")
                .id
        })
        .collect();
    assert_eq!(
        sent,
        [old_unsent],
        "the old unsent row was sent before it was removed"
    );
    let marks: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT message_id FROM processed_messages")
        .fetch_all(&stores.pool)
        .await
        .expect("marks");
    assert_eq!(marks, [fresh_mark]);
    workers.shutdown().await;
}

#[tokio::test]
async fn a_message_the_broker_keeps_refusing_is_set_aside_and_those_behind_it_go_on() {
    shared::metrics::handle();
    let stores = TestStores::new().await;
    stores.declare_probe().await;
    let broker = Broker::start(&stores.broker.args(), "relay-test");
    // A command no queue takes: the broker returns it, every time.
    let mut transaction = stores.pool.begin().await.expect("a transaction");
    let refused = enqueue(
        &mut transaction,
        &Message::command("nobody.listens", "aggregate-1", serde_json::json!({})),
    )
    .await
    .expect("enqueued");
    transaction.commit().await.expect("committed");
    let behind = stores.announce("aggregate-2", 1).await;
    let workers = broker.workers().relay(&stores.outbox);

    // The row behind is published with the refused one in each batch, but marked sent
    // only once the refused one no longer stands in front of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (refusals, set_aside, error, behind_sent) = loop {
        let (refusals, set_aside, error): (i32, bool, Option<String>) = sqlx::query_as(
            "SELECT refusals, set_aside_at IS NOT NULL, last_error FROM outbox WHERE id = $1",
        )
        .bind(refused)
        .fetch_one(&stores.pool)
        .await
        .expect("the refused row");
        let behind_sent: bool =
            sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1")
                .bind(behind)
                .fetch_one(&stores.pool)
                .await
                .expect("the row behind");
        if (set_aside && behind_sent) || Instant::now() >= deadline {
            break (refusals, set_aside, error, behind_sent);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(set_aside, "set aside after {refusals} refusals");
    assert!(behind_sent, "the row behind it is sent");
    assert_eq!(refusals, 5);
    assert!(
        error
            .as_deref()
            .is_some_and(|error| error.contains("reached no queue")),
        "{error:?}"
    );
    let received = stores
        .broker
        .drain(
            &stores.broker.topology().queue(&PROBE),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert!(
        received
            .iter()
            .all(|message| Envelope::decode(&message.delivery.data)
                .expect("an envelope")
                .id
                == behind),
        "only the row behind reached the queue"
    );
    let wanted = format!(
        "outbox_messages_set_aside_total{{outbox=\"{}\"}} 1",
        stores.outbox.label()
    );
    assert!(
        shared::metrics::handle().render().contains(&wanted),
        "{wanted}"
    );
    workers.shutdown().await;
}
