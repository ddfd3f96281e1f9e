//! The deliveries' progress, published by delivery-service, becomes each delivery's stream:
//! its status, its timeline and its live updates, with no call to tracking-service.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::auth::Role;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, spawn_app},
    tracking::read_until,
};

fn progress(order: Uuid, customer: Uuid, courier: Uuid) -> Value {
    json!({
        "order_id": order, "shipment_id": Uuid::now_v7(),
        "customer_id": customer, "courier_id": courier,
    })
}

/// The timeline's event types once it has `count` entries (ten seconds at most).
async fn timeline(app: &TestApp, token: &str, order: Uuid, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.get(&format!("/tracking/{order}/events"), token).await;
        let kinds: Vec<String> = if response.status().is_success() {
            let body: Value = response.json().await.expect("json");
            body["items"]
                .as_array()
                .or_else(|| body.as_array())
                .map(|entries| {
                    entries
                        .iter()
                        .map(|entry| entry["event_type"].as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        if kinds.len() >= count || Instant::now() >= deadline {
            return kinds;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_courier_s_steps_make_the_delivery_s_timeline_and_status() {
    let app = spawn_app().await;
    let (customer, token) = app.user(&[Role::Customer]);
    let (courier, courier_token) = app.user(&[Role::Courier]);
    let order = Uuid::now_v7();
    let event = progress(order, customer, courier);
    for kind in [
        "delivery.assigned",
        "delivery.picked_up",
        "delivery.delivered",
    ] {
        app.announce(kind, event.clone()).await;
    }
    let kinds = timeline(&app, &token, order, 4).await;
    assert_eq!(
        kinds,
        ["created", "courier_assigned", "picked_up", "delivered"]
    );
    let status: Value = app
        .get(&format!("/tracking/{order}"), &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "delivered");
    assert_eq!(status["courier_id"], courier.to_string());
    let active: Value = app
        .get(
            &format!("/tracking/couriers/{courier}/active"),
            &courier_token,
        )
        .await
        .json()
        .await
        .expect("json");
    assert!(
        !active.to_string().contains(&order.to_string()),
        "delivered, no longer active: {active}"
    );
}

#[tokio::test]
async fn a_step_that_overtakes_the_one_before_it_waits_for_it() {
    let app = spawn_app().await;
    let (customer, token) = app.user(&[Role::Customer]);
    let order = Uuid::now_v7();
    let event = progress(order, customer, Uuid::now_v7());
    app.announce("delivery.picked_up", event.clone()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.announce("delivery.assigned", event).await;
    let kinds = timeline(&app, &token, order, 3).await;
    assert_eq!(kinds, ["created", "courier_assigned", "picked_up"]);
}

#[tokio::test]
async fn an_event_delivered_twice_is_recorded_once() {
    let app = spawn_app().await;
    let (customer, token) = app.user(&[Role::Customer]);
    let order = Uuid::now_v7();
    let event = progress(order, customer, Uuid::now_v7());
    let assigned = app.announce("delivery.assigned", event.clone()).await;
    app.broker
        .send(messaging::topology::Exchange::DomainEvents, &assigned)
        .await;
    app.announce("delivery.cancelled", event.clone()).await;
    app.announce("delivery.cancelled", event).await;
    let kinds = timeline(&app, &token, order, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kinds, ["created", "courier_assigned", "cancelled"]);
    assert_eq!(timeline(&app, &token, order, 3).await.len(), 3);
}

#[tokio::test]
async fn the_live_stream_shows_the_courier_s_steps_as_they_happen() {
    let app = spawn_app().await;
    let (customer, token) = app.user(&[Role::Customer]);
    let order = Uuid::now_v7();
    let event = progress(order, customer, Uuid::now_v7());
    app.announce("delivery.assigned", event.clone()).await;
    timeline(&app, &token, order, 2).await;
    let response = app.get(&format!("/tracking/{order}/stream"), &token).await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "\"status\":\"assigned\"").await;
    app.announce("delivery.picked_up", event).await;
    read_until(&mut body, &mut seen, "\"status\":\"picked_up\"").await;
}
