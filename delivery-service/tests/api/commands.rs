//! The saga's shipping step: commands in, replies and delivery events out.

use std::time::Duration;

use messaging::{
    Envelope,
    testing::{REPLIES, envelope},
};
use rand::{SeedableRng as _, rngs::StdRng, seq::SliceRandom as _};
use serde_json::{Value, json};
use shared::auth::Role;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

fn terms(order: Uuid, customer: Uuid, lat: f64, lon: f64) -> Value {
    json!({
        "order_id": order, "customer_id": customer, "restaurant_id": "r-1",
        "pickup": {"lat": lat, "lon": lon},
    })
}

async fn shipment(app: &TestApp, order: Uuid) -> Value {
    let (_, admin) = app.user(&[Role::Admin]);
    app.get(&format!("/delivery/{order}"), &admin)
        .await
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_create_command_gives_the_nearest_free_courier_and_says_who() {
    let app = spawn_app().await;
    let (near, _) = app.courier_at(48.86, 2.35).await;
    app.courier_at(43.30, 5.37).await;
    let (order, customer) = (Uuid::now_v7(), Uuid::now_v7());
    app.command(
        "shipping.create",
        order,
        terms(order, customer, 48.85, 2.34),
    )
    .await;

    let reply = &app.replies(1).await[0];
    assert_eq!(reply.kind, "shipping.created");
    assert_eq!(reply.payload["courier_id"], near.to_string());
    let assigned = shipment(&app, order).await;
    assert_eq!(assigned["status"], "ASSIGNED");
    assert_eq!(assigned["customer_id"], customer.to_string());
    let event = &app.events(1).await[0];
    assert_eq!(event.kind, "delivery.assigned");
    assert_eq!(event.payload["courier_id"], near.to_string());
}

#[tokio::test]
async fn with_no_free_courier_the_create_fails_and_a_late_retry_still_fails() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    app.command(
        "shipping.create",
        order,
        terms(order, Uuid::now_v7(), 48.85, 2.34),
    )
    .await;
    let reply = &app.replies(1).await[0];
    assert_eq!(reply.kind, "shipping.failed");
    assert_eq!(reply.payload["reason"], "no_courier_available");
    // A courier appears; the same order's create, sent again, must not take them: the saga
    // has given up on it.
    app.courier_at(48.86, 2.35).await;
    app.command(
        "shipping.create",
        order,
        terms(order, Uuid::now_v7(), 48.85, 2.34),
    )
    .await;
    assert_eq!(app.replies(1).await[0].kind, "shipping.failed");
    assert_eq!(shipment(&app, order).await["status"], "CANCELLED");
}

#[tokio::test]
async fn a_cancel_command_frees_the_courier_and_announces_it() {
    let app = spawn_app().await;
    let (courier, _) = app.courier_at(48.86, 2.35).await;
    let order = Uuid::now_v7();
    let ship = terms(order, Uuid::now_v7(), 48.85, 2.34);
    app.command("shipping.create", order, ship.clone()).await;
    assert_eq!(app.replies(1).await[0].kind, "shipping.created");
    for _ in 0..2 {
        app.command("shipping.cancel", order, ship.clone()).await;
        assert_eq!(app.replies(1).await[0].kind, "shipping.cancelled");
    }
    assert_eq!(shipment(&app, order).await["status"], "CANCELLED");
    let kinds: Vec<String> = app.events(2).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        ["delivery.assigned", "delivery.cancelled"],
        "cancelled once"
    );
    // The courier is free for the next order.
    let next = Uuid::now_v7();
    app.command(
        "shipping.create",
        next,
        terms(next, Uuid::now_v7(), 48.85, 2.34),
    )
    .await;
    assert_eq!(
        app.replies(1).await[0].payload["courier_id"],
        courier.to_string()
    );
}

#[tokio::test]
async fn a_cancel_that_overtakes_its_create_makes_the_late_create_fail() {
    let app = spawn_app().await;
    app.courier_at(48.86, 2.35).await;
    let order = Uuid::now_v7();
    let ship = terms(order, Uuid::now_v7(), 48.85, 2.34);
    app.command("shipping.cancel", order, ship.clone()).await;
    assert_eq!(app.replies(1).await[0].kind, "shipping.cancelled");
    app.command("shipping.create", order, ship).await;
    let reply = &app.replies(1).await[0];
    assert_eq!(reply.kind, "shipping.failed");
    assert_eq!(reply.payload["reason"], "cancelled");
}

#[tokio::test]
async fn the_courier_s_steps_are_announced_as_delivery_events() {
    let app = spawn_app().await;
    let (courier, token) = app.courier_at(48.86, 2.35).await;
    let order = Uuid::now_v7();
    app.command(
        "shipping.create",
        order,
        terms(order, Uuid::now_v7(), 48.85, 2.34),
    )
    .await;
    assert_eq!(app.replies(1).await[0].kind, "shipping.created");
    app.confirm(order).await;
    for step in ["picked-up", "delivered"] {
        let response = app
            .post(
                &format!("/delivery/{order}/{step}"),
                &token,
                "-",
                &json!({}),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "{step}");
    }
    let events = app.events(3).await;
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "delivery.assigned",
            "delivery.picked_up",
            "delivery.delivered"
        ]
    );
    assert!(
        events
            .iter()
            .all(|event| event.payload["courier_id"] == courier.to_string())
    );
    assert!(
        events
            .iter()
            .all(|event| event.aggregate_id == order.to_string())
    );
}

/// Whether `reply`, a cancel's, says what the store holds for its order.
async fn agrees_with_the_store(app: &TestApp, reply: &Envelope) -> bool {
    let order = reply.aggregate_id.parse().expect("an order id");
    let (status, busy) = app.stored(order).await;
    match reply.kind.as_str() {
        "shipping.cancelled" => status == "CANCELLED" && !busy,
        "shipping.cancel_failed" => status == "PICKED_UP" || status == "DELIVERED",
        _ => false,
    }
}

#[tokio::test]
async fn a_cancel_that_meets_a_create_in_flight_cancels_what_the_create_commits() {
    let app = spawn_app().await;
    let (courier, _) = app.courier_at(48.86, 2.35).await;
    let order = Uuid::now_v7();
    // A create in flight, as the service's own would be: its shipment written, uncommitted.
    let mut create = app.db.begin().await.expect("a transaction");
    let creator: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *create)
        .await
        .expect("its session");
    sqlx::query(
        "INSERT INTO shipments (id, order_id, customer_id, status, pickup_lat, pickup_lon)
         VALUES ($1, $2, $3, 'CREATED', 48.85, 2.34)",
    )
    .bind(Uuid::now_v7())
    .bind(order)
    .bind(Uuid::now_v7())
    .execute(&mut *create)
    .await
    .expect("the shipment written");
    let ship = terms(order, Uuid::now_v7(), 48.85, 2.34);
    app.command("shipping.cancel", order, ship).await;
    app.blocked_by(creator).await;
    // The create takes its courier and commits while the cancel waits on its shipment.
    sqlx::query("UPDATE couriers SET busy = true WHERE user_id = $1")
        .bind(courier)
        .execute(&mut *create)
        .await
        .expect("the courier taken");
    sqlx::query("UPDATE shipments SET status = 'ASSIGNED', courier_id = $2 WHERE order_id = $1")
        .bind(order)
        .bind(courier)
        .execute(&mut *create)
        .await
        .expect("the shipment assigned");
    create.commit().await.expect("the create commits");

    let reply = &app.replies(1).await[0];
    assert!(
        agrees_with_the_store(&app, reply).await,
        "{reply:?} but the store holds {:?}",
        app.stored(order).await
    );
    assert_eq!(reply.kind, "shipping.cancelled");
}

#[tokio::test]
async fn creates_sent_twice_and_cancels_all_at_once_leave_every_reply_true_to_the_store() {
    let seed = std::env::var("TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("seed {seed} (TEST_SEED={seed} sends the commands in the same order)");
    let app = spawn_app().await;
    for i in 0..20 {
        app.courier_at(48.86 + f64::from(i) / 1000.0, 2.35).await;
    }
    let orders: Vec<Uuid> = (0..60).map(|_| Uuid::now_v7()).collect();
    let mut commands = Vec::new();
    for order in &orders {
        let ship = terms(*order, Uuid::now_v7(), 48.85, 2.34);
        for kind in ["shipping.create", "shipping.create", "shipping.cancel"] {
            commands.push(envelope(kind, order, ship.clone()));
        }
    }
    commands.shuffle(&mut StdRng::seed_from_u64(seed));
    app.burst(&commands).await;

    let replies = app
        .broker
        .envelopes(&REPLIES, commands.len(), Duration::from_secs(60))
        .await;
    let kinds: Vec<&str> = replies.iter().map(|reply| reply.kind.as_str()).collect();
    assert_eq!(replies.len(), commands.len(), "seed {seed}: {kinds:?}");
    assert!(
        kinds.iter().all(|kind| kind.starts_with("shipping.")),
        "seed {seed}: {kinds:?}"
    );
    for order in orders {
        let cancelled = replies
            .iter()
            .find(|reply| {
                reply.aggregate_id == order.to_string() && reply.kind.starts_with("shipping.cancel")
            })
            .expect("the cancel answered");
        assert!(
            agrees_with_the_store(&app, cancelled).await,
            "seed {seed}: {cancelled:?} but the store holds {:?}",
            app.stored(order).await
        );
    }
    let (busy, carrying): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM couriers WHERE busy),
                (SELECT count(*) FROM shipments WHERE status IN ('ASSIGNED', 'PICKED_UP'))",
    )
    .fetch_one(&app.db)
    .await
    .expect("counted");
    assert_eq!(
        busy, carrying,
        "seed {seed}: busy couriers and their shipments"
    );
}
