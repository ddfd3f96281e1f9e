//! The order saga against fake participants on a real broker: each path to a terminal
//! state, silence, cancellation, duplicates, and what operators see.

use std::time::Duration;

use messaging::{testing::envelope, topology::Exchange};
use serde_json::{Value, json};
use shared::auth::Role;

use crate::helpers::{SagaTimes, TestApp, order_of, spawn_app, spawn_app_timed};

/// Places an order paid with `method`; returns its id and the customer's token.
pub async fn place_with(app: &TestApp, method: &str) -> (String, String) {
    let (_, token) = app.user(&[Role::Customer]);
    let mut body = order_of(2);
    body["payment_method"] = json!(method);
    let response = app.post("/orders", &token, &body).await;
    assert_eq!(response.status().as_u16(), 201);
    let order: Value = response.json().await.expect("json");
    (order["id"].as_str().expect("an id").to_owned(), token)
}

/// The saga's steps as `(step, outcome)`.
pub fn steps(saga: &Value) -> Vec<(String, String)> {
    saga["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            (
                step["step"].as_str().unwrap_or_default().to_owned(),
                step["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(step, outcome)| ((*step).to_owned(), (*outcome).to_owned()))
        .collect()
}

#[tokio::test]
async fn an_order_is_confirmed_after_authorization_shipment_and_capture_of_its_total() {
    let app = spawn_app().await;
    let (id, token) = place_with(&app, "pm_card_ok").await;
    let order = app.wait_for_status(&id, &token, "CONFIRMED").await;
    assert_eq!(order["courier_id"], app.participants.courier.to_string());
    assert_eq!(
        app.participants.commands_for(&id),
        ["payment.authorize", "shipping.create", "payment.capture"]
    );
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["state"], "completed");
    assert_eq!(saga["ending"], "CONFIRMED");
    assert_eq!(
        steps(&saga),
        pairs(&[
            ("authorize_payment", "succeeded"),
            ("create_shipment", "succeeded"),
            ("capture_payment", "succeeded"),
        ])
    );
    assert!(saga["steps"][0]["finished_at"].is_string());
}

#[tokio::test]
async fn a_declined_card_rejects_the_order_and_nothing_is_shipped() {
    let app = spawn_app().await;
    let (id, token) = place_with(&app, "pm_card_declined").await;
    app.wait_for_status(&id, &token, "REJECTED").await;
    assert_eq!(app.participants.commands_for(&id), ["payment.authorize"]);
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["state"], "compensated");
    assert!(
        saga["reason"]
            .as_str()
            .is_some_and(|r| r.contains("card_declined")),
        "{saga}"
    );
}

#[tokio::test]
async fn with_no_free_courier_the_authorization_is_voided_and_the_order_cancelled() {
    let app = spawn_app().await;
    app.participants
        .no_courier
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (id, token) = place_with(&app, "pm_card_ok").await;
    app.wait_for_status(&id, &token, "CANCELLED").await;
    assert_eq!(
        app.participants.commands_for(&id),
        ["payment.authorize", "shipping.create", "payment.void"]
    );
}

#[tokio::test]
async fn a_failing_capture_cancels_the_shipment_then_voids_the_authorization() {
    let app = spawn_app().await;
    let (id, token) = place_with(&app, "pm_card_capture_fails").await;
    app.wait_for_status(&id, &token, "CANCELLED").await;
    assert_eq!(
        app.participants.commands_for(&id),
        [
            "payment.authorize",
            "shipping.create",
            "payment.capture",
            "shipping.cancel",
            "payment.void"
        ],
        "compensated newest first"
    );
    let saga = app.saga(&id, &token).await;
    assert_eq!(
        steps(&saga),
        pairs(&[
            ("authorize_payment", "succeeded"),
            ("create_shipment", "succeeded"),
            ("capture_payment", "failed"),
            ("cancel_shipment", "succeeded"),
            ("void_payment", "succeeded"),
        ])
    );
}

#[tokio::test]
async fn a_silent_step_is_tried_again_then_undone_with_the_steps_before_it() {
    let app = spawn_app_timed(SagaTimes {
        step_timeout: "300ms",
        attempts: 2,
    })
    .await;
    app.participants.silence("shipping.create", true);
    let (id, token) = place_with(&app, "pm_card_ok").await;
    app.wait_for_status(&id, &token, "CANCELLED").await;
    let mut commands = app.participants.commands_for(&id);
    // A loaded machine may answer the authorization after its 300 ms too: that step is
    // then tried again as well, which is not what this test is about.
    commands.dedup_by(|later, earlier| later == earlier && *later == "payment.authorize");
    assert_eq!(
        commands,
        [
            "payment.authorize",
            "shipping.create",
            "shipping.create",
            "shipping.cancel",
            "payment.void"
        ],
        "two attempts, then the shipment (perhaps made) is cancelled and the payment voided"
    );
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["steps"][1]["attempts"], 2);
    assert_eq!(saga["steps"][1]["outcome"], "timed_out");
    assert!(
        saga["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no answer")),
        "{saga}"
    );
}

#[tokio::test]
async fn a_silent_compensation_is_tried_until_it_answers() {
    let app = spawn_app_timed(SagaTimes {
        step_timeout: "200ms",
        attempts: 1,
    })
    .await;
    app.participants
        .no_courier
        .store(true, std::sync::atomic::Ordering::SeqCst);
    app.participants.silence("payment.void", true);
    let (id, token) = place_with(&app, "pm_card_ok").await;
    // 200 ms, 400 ms, 800 ms: the third void is sent within two seconds.
    let seen = app.participants.wait_for_commands(&id, 5).await;
    assert_eq!(&seen[2..], ["payment.void", "payment.void", "payment.void"]);
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["state"], "compensating");
    app.participants.silence("payment.void", false);
    app.wait_for_status(&id, &token, "CANCELLED").await;
}

#[tokio::test]
async fn a_cancel_while_the_saga_runs_undoes_the_step_under_way_when_it_ends() {
    let app = spawn_app().await;
    app.participants.silence("payment.authorize", true);
    let (id, token) = place_with(&app, "pm_card_ok").await;
    app.participants.wait_for_commands(&id, 1).await;
    let accepted = app
        .post(&format!("/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(accepted.status().as_u16(), 202);
    let body: Value = accepted.json().await.expect("json");
    assert_eq!(body["status"], "PENDING", "still under way");
    assert_eq!(app.saga(&id, &token).await["cancel_requested"], true);
    // The authorization answers after all: it is voided at once, and nothing is shipped.
    let reply = envelope(
        "payment.authorized",
        &id,
        json!({"order_id": id, "amount": 2200}),
    );
    app.broker.send(Exchange::SagaReplies, &reply).await;
    app.wait_for_status(&id, &token, "CANCELLED").await;
    assert_eq!(
        app.participants.commands_for(&id),
        ["payment.authorize", "payment.void"]
    );
}

#[tokio::test]
async fn a_reply_delivered_twice_moves_the_saga_once() {
    let app = spawn_app().await;
    app.participants.silence("payment.capture", true);
    let (id, token) = place_with(&app, "pm_card_ok").await;
    app.participants.wait_for_commands(&id, 3).await;
    let captured = envelope(
        "payment.captured",
        &id,
        json!({"order_id": id, "amount": 2200}),
    );
    for _ in 0..2 {
        app.broker.send(Exchange::SagaReplies, &captured).await;
    }
    app.wait_for_status(&id, &token, "CONFIRMED").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["steps"].as_array().expect("steps").len(), 3);
    assert_eq!(app.participants.commands_for(&id).len(), 3);
}

#[tokio::test]
async fn the_courier_s_steps_move_a_confirmed_order_to_picked_up_then_delivered() {
    let app = spawn_app().await;
    let (id, token) = place_with(&app, "pm_card_ok").await;
    let progress = json!({
        "order_id": id, "shipment_id": uuid::Uuid::now_v7(),
        "customer_id": uuid::Uuid::now_v7(), "courier_id": app.participants.courier,
    });
    // Delivered before picked up, and both perhaps before the confirmation: kept while the
    // saga holds the order, then applied; a hand-over implies the pick-up.
    for kind in ["delivery.delivered", "delivery.picked_up"] {
        let event = envelope(kind, &id, progress.clone());
        app.broker.send(Exchange::DomainEvents, &event).await;
    }
    app.wait_for_status(&id, &token, "DELIVERED").await;
}
