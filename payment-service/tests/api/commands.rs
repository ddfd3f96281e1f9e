//! The saga's payment step: commands in, replies out, each idempotent.

use serde_json::{Value, json};
use shared::auth::Role;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

fn terms(order: Uuid, customer: Uuid, amount: i64, method: &str) -> Value {
    json!({
        "order_id": order, "customer_id": customer, "amount": amount,
        "currency": "EUR", "payment_method": method,
    })
}

async fn payment(app: &TestApp, order: Uuid) -> Value {
    let (_, admin) = app.user(&[Role::Admin]);
    app.get(&format!("/payments/{order}"), &admin)
        .await
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn an_authorize_command_holds_the_orders_total_for_its_customer_and_says_so() {
    let app = spawn_app().await;
    let (customer, token) = app.user(&[Role::Customer]);
    let order = Uuid::now_v7();
    app.command(
        "payment.authorize",
        order,
        terms(order, customer, 2599, "pm_card_ok"),
    )
    .await;

    let replies = app.replies(1).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].kind, "payment.authorized");
    assert_eq!(replies[0].aggregate_id, order.to_string());
    assert_eq!(replies[0].payload["order_id"], order.to_string());
    assert_eq!(replies[0].payload["amount"], 2599);
    let seen: Value = app
        .get(&format!("/payments/{order}"), &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(seen["status"], "authorized");
    assert_eq!(
        seen["customer_id"],
        customer.to_string(),
        "the order's customer's"
    );
    assert_eq!(seen["authorized_amount"], 2599);
}

#[tokio::test]
async fn a_declined_card_answers_declined_with_its_reason_and_holds_nothing() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    app.command(
        "payment.authorize",
        order,
        terms(order, Uuid::now_v7(), 900, "pm_card_declined"),
    )
    .await;
    let replies = app.replies(1).await;
    assert_eq!(replies[0].kind, "payment.declined");
    assert_eq!(replies[0].payload["reason"], "card_declined");
    assert_eq!(payment(&app, order).await["ledger"], json!([]));
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn capture_and_refund_by_command_and_a_command_sent_again_changes_nothing() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let customer = Uuid::now_v7();
    app.command(
        "payment.authorize",
        order,
        terms(order, customer, 3000, "pm_card_ok"),
    )
    .await;
    assert_eq!(app.replies(1).await[0].kind, "payment.authorized");
    // Sent again after a time-out: a new message, the same order.
    for _ in 0..2 {
        app.command(
            "payment.capture",
            order,
            terms(order, customer, 3000, "pm_card_ok"),
        )
        .await;
        let reply = &app.replies(1).await[0];
        assert_eq!(reply.kind, "payment.captured");
        assert_eq!(reply.payload["amount"], 3000);
    }
    let captured = payment(&app, order).await;
    assert_eq!(captured["captured_amount"], 3000);
    let captures = captured["ledger"]
        .as_array()
        .expect("ledger")
        .iter()
        .filter(|line| line["operation"] == "capture" && line["direction"] == "credit")
        .count();
    assert_eq!(captures, 1, "captured once");

    app.command(
        "payment.refund",
        order,
        terms(order, customer, 3000, "pm_card_ok"),
    )
    .await;
    assert_eq!(app.replies(1).await[0].kind, "payment.refunded");
    assert_eq!(payment(&app, order).await["status"], "refunded");
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn a_failing_capture_answers_failed_and_the_void_releases_the_hold() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let customer = Uuid::now_v7();
    let card = terms(order, customer, 1500, "pm_card_capture_fails");
    app.command("payment.authorize", order, card.clone()).await;
    assert_eq!(app.replies(1).await[0].kind, "payment.authorized");
    app.command("payment.capture", order, card.clone()).await;
    let reply = &app.replies(1).await[0];
    assert_eq!(reply.kind, "payment.capture_failed");
    assert_eq!(reply.payload["reason"], "capture_failed");
    app.command("payment.void", order, card).await;
    assert_eq!(app.replies(1).await[0].kind, "payment.voided");
    let voided = payment(&app, order).await;
    assert_eq!(voided["status"], "voided");
    assert_eq!(voided["captured_amount"], 0);
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn a_void_that_overtakes_its_authorization_makes_the_late_authorization_decline() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let card = terms(order, Uuid::now_v7(), 1200, "pm_card_ok");
    app.command("payment.void", order, card.clone()).await;
    assert_eq!(app.replies(1).await[0].kind, "payment.voided");
    app.command("payment.authorize", order, card).await;
    let reply = &app.replies(1).await[0];
    assert_eq!(reply.kind, "payment.declined");
    assert_eq!(reply.payload["reason"], "cancelled");
    let called_off = payment(&app, order).await;
    assert_eq!(called_off["status"], "cancelled");
    assert_eq!(called_off["ledger"], json!([]), "nothing was ever held");
}

#[tokio::test]
async fn the_same_command_delivered_twice_is_applied_and_answered_once() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let command = app
        .command(
            "payment.authorize",
            order,
            terms(order, Uuid::now_v7(), 800, "pm_card_ok"),
        )
        .await;
    app.deliver(&command).await;
    let replies = app.replies(2).await;
    assert_eq!(replies.len(), 1, "one answer: {replies:?}");
    let payment = payment(&app, order).await;
    assert_eq!(payment["ledger"].as_array().expect("ledger").len(), 2);
}

#[tokio::test]
async fn cancelling_a_confirmed_order_refunds_then_the_void_finds_nothing_held() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let card = terms(order, Uuid::now_v7(), 2500, "pm_card_ok");
    for (command, answer) in [
        ("payment.authorize", "payment.authorized"),
        ("payment.capture", "payment.captured"),
        ("payment.refund", "payment.refunded"),
        ("payment.void", "payment.voided"),
    ] {
        app.command(command, order, card.clone()).await;
        assert_eq!(app.replies(1).await[0].kind, answer, "{command}");
    }
    let refunded = payment(&app, order).await;
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["refunded_amount"], 2500);
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn undoing_a_capture_in_doubt_releases_the_hold_so_a_late_capture_takes_nothing() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let card = terms(order, Uuid::now_v7(), 1800, "pm_card_ok");
    app.command("payment.authorize", order, card.clone()).await;
    assert_eq!(app.replies(1).await[0].kind, "payment.authorized");
    // The capture went unanswered: the saga undoes it before the capture arrives.
    app.command("payment.refund", order, card.clone()).await;
    let reply = &app.replies(1).await[0];
    assert_eq!(reply.kind, "payment.refunded");
    assert_eq!(reply.payload["amount"], 0, "nothing was captured");
    app.command("payment.capture", order, card.clone()).await;
    assert_eq!(app.replies(1).await[0].kind, "payment.capture_failed");
    app.command("payment.void", order, card).await;
    assert_eq!(app.replies(1).await[0].kind, "payment.voided");
    let released = payment(&app, order).await;
    assert_eq!(released["status"], "voided");
    assert_eq!(released["captured_amount"], 0);
    assert_eq!(app.imbalance().await, 0);
}
