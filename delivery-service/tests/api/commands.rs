//! The saga's shipping step: commands in, replies and delivery events out.

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
