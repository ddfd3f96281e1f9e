//! A confirmed order's cancellation as a saga of its own, and the semantic lock it holds:
//! the shipment is called off first (the step that may be refused), money moves last, and
//! nobody moves the order behind the saga's back.

use std::time::Duration;

use messaging::{testing::envelope, topology::Exchange};
use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};

use crate::{
    helpers::{TestApp, spawn_app},
    saga::place_with,
};

/// A confirmed order and its customer's token.
async fn confirmed(app: &TestApp) -> (String, String) {
    let (id, token) = place_with(app, "pm_card_ok").await;
    app.wait_for_status(&id, &token, "CONFIRMED").await;
    (id, token)
}

async fn cancel(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.post(&format!("/orders/{id}/cancel"), token, &json!({}))
        .await
}

/// Waits up to ten seconds for the saga to be in `state`.
async fn wait_for_saga(app: &TestApp, id: &str, token: &str, state: &str) -> Value {
    let mut saga = Value::Null;
    for _ in 0..200 {
        saga = app.saga(id, token).await;
        if saga["state"] == state {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(saga["state"], state, "{saga}");
    saga
}

#[tokio::test]
async fn a_confirmed_order_s_cancel_calls_the_shipment_off_then_cancels_then_refunds() {
    let app = spawn_app().await;
    let (id, token) = confirmed(&app).await;
    let accepted = cancel(&app, &id, &token).await;
    assert_eq!(accepted.status().as_u16(), 202);
    app.wait_for_status(&id, &token, "CANCELLED").await;
    wait_for_saga(&app, &id, &token, "compensated").await;
    assert_eq!(
        &app.participants.commands_for(&id)[3..],
        ["shipping.cancel", "payment.refund"],
        "the step that may be refused first; money moves last; nothing held is left to void"
    );
    assert_problem(cancel(&app, &id, &token).await, 409).await;
}

#[tokio::test]
async fn a_cancel_refused_because_the_courier_has_the_food_is_a_409_and_the_order_goes_on_paid() {
    let app = spawn_app().await;
    app.participants
        .shipments_stuck
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (id, token) = confirmed(&app).await;
    let refused = assert_problem(cancel(&app, &id, &token).await, 409).await;
    assert!(
        refused["type"]
            .as_str()
            .is_some_and(|kind| kind.ends_with("cancellation-refused")),
        "{refused}"
    );
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("picked_up")),
        "{refused}"
    );
    let order = app.wait_for_status(&id, &token, "CONFIRMED").await;
    assert_eq!(order["status"], "CONFIRMED");
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["state"], "completed", "{saga}");
    assert!(
        !app.participants
            .commands_for(&id)
            .contains(&"payment.refund".to_owned()),
        "no refund for food that left"
    );
}

#[tokio::test]
async fn while_a_saga_holds_the_order_the_restaurant_s_moves_are_refused_naming_the_saga() {
    let app = spawn_app().await;
    let owner = app.token_of(app.restaurants.owner, &[Role::RestaurantOwner]);
    app.participants.silence("payment.authorize", true);
    let (pending, token) = place_with(&app, "pm_card_ok").await;
    let held = assert_problem(
        app.post(&format!("/orders/{pending}/accept"), &owner, &json!({}))
            .await,
        409,
    )
    .await;
    assert_eq!(held["saga"], format!("/orders/{pending}/saga"), "{held}");
    app.participants.silence("payment.authorize", false);
    app.participants.silence("shipping.cancel", true);

    let (id, token_b) = confirmed(&app).await;
    let accepted = cancel(&app, &id, &token_b).await;
    assert_eq!(accepted.status().as_u16(), 202, "no answer yet: accepted");
    let body: Value = accepted.json().await.expect("json");
    assert_eq!(body["status"], "CANCEL_PENDING");
    let held = assert_problem(
        app.post(&format!("/orders/{id}/accept"), &owner, &json!({}))
            .await,
        409,
    )
    .await;
    assert!(
        held["type"]
            .as_str()
            .is_some_and(|kind| kind.ends_with("saga-in-progress")),
        "{held}"
    );
    assert_eq!(held["saga"], format!("/orders/{id}/saga"));
    assert_eq!(
        cancel(&app, &id, &token_b).await.status().as_u16(),
        202,
        "cancelling again changes nothing"
    );
    let _ = token;
}

#[tokio::test]
async fn a_courier_s_pick_up_during_a_cancellation_is_kept_and_applied_when_the_order_goes_on() {
    let app = spawn_app().await;
    app.participants.silence("shipping.cancel", true);
    let (id, token) = confirmed(&app).await;
    assert_eq!(cancel(&app, &id, &token).await.status().as_u16(), 202);
    let progress = json!({
        "order_id": id, "shipment_id": uuid::Uuid::now_v7(),
        "customer_id": uuid::Uuid::now_v7(), "courier_id": app.participants.courier,
    });
    let picked_up = envelope("delivery.picked_up", &id, progress);
    app.broker.send(Exchange::DomainEvents, &picked_up).await;
    let mut saga = Value::Null;
    for _ in 0..200 {
        saga = app.saga(&id, &token).await;
        if saga["waiting_facts"]
            .as_array()
            .is_some_and(|facts| !facts.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(saga["waiting_facts"][0]["status"], "PICKED_UP", "{saga}");
    let order = app.wait_for_status(&id, &token, "CANCEL_PENDING").await;
    assert_eq!(
        order["status"], "CANCEL_PENDING",
        "not applied behind the saga's back"
    );

    let refused = envelope(
        "shipping.cancel_failed",
        &id,
        json!({"order_id": id, "reason": "picked_up"}),
    );
    app.broker.send(Exchange::SagaReplies, &refused).await;
    app.wait_for_status(&id, &token, "PICKED_UP").await;
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["state"], "completed");
    assert_eq!(saga["waiting_facts"], json!([]));
    assert!(
        !app.participants
            .commands_for(&id)
            .contains(&"payment.refund".to_owned())
    );
}
