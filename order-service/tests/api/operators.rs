//! Faults and operators: a saga command given up on reaches the saga at once; a compensation
//! refused or given up on drops none of the others; a failed saga is listed with what is
//! needed, and an operator retries it or resolves it by hand, each action logged.

use std::time::Duration;

use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};

use crate::{
    helpers::{SagaTimes, TestApp, spawn_app, spawn_app_timed},
    saga::{pairs, place_with, steps},
};

/// An order whose failed capture's shipment cancel is given up on: its saga fails.
async fn failed_saga(app: &TestApp) -> (String, String) {
    app.participants.fault("shipping.cancel", true);
    let (id, token) = place_with(app, "pm_card_capture_fails").await;
    let mut saga = Value::Null;
    for _ in 0..300 {
        saga = app.saga(&id, &token).await;
        if saga["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(saga["state"], "failed", "{saga}");
    (id, token)
}

#[tokio::test]
async fn a_compensation_given_up_on_drops_none_of_the_others_and_fails_the_saga_for_an_operator() {
    let app = spawn_app().await;
    let (id, token) = failed_saga(&app).await;
    assert_eq!(
        app.participants.commands_for(&id),
        [
            "payment.authorize",
            "shipping.create",
            "payment.capture",
            "shipping.cancel",
            "payment.void"
        ],
        "the void still runs"
    );
    let saga = app.saga(&id, &token).await;
    assert_eq!(
        steps(&saga),
        pairs(&[
            ("authorize_payment", "succeeded"),
            ("create_shipment", "succeeded"),
            ("capture_payment", "failed"),
            ("cancel_shipment", "faulted"),
            ("void_payment", "succeeded"),
        ])
    );
    assert_eq!(saga["unresolved"][0]["step"], "cancel_shipment", "{saga}");
    assert!(
        saga["unresolved"][0]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("shipping.cancel rejected")),
        "{saga}"
    );
    let order: Value = app
        .get(&format!("/orders/{id}"), &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        order["status"], "PENDING",
        "held until an operator sees to it"
    );
}

#[tokio::test]
async fn an_operator_retries_a_failed_saga_and_it_ends_as_it_should_with_the_action_logged() {
    let app = spawn_app().await;
    let (id, token) = failed_saga(&app).await;
    let (_, admin) = app.user(&[Role::Admin]);
    let retry = format!("/orders/admin/sagas/{id}/retry");
    assert_problem(app.post(&retry, &token, &json!({"note": "me"})).await, 403).await;
    assert_problem(app.post(&retry, &admin, &json!({"note": " "})).await, 422).await;
    app.participants.fault("shipping.cancel", false);
    let retried = app
        .post(&retry, &admin, &json!({"note": "delivery fixed"}))
        .await;
    assert_eq!(retried.status().as_u16(), 202);
    app.wait_for_status(&id, &token, "CANCELLED").await;
    let saga = app.saga(&id, &token).await;
    assert_eq!(saga["state"], "compensated", "{saga}");
    assert_eq!(saga["unresolved"], json!([]));
    assert_eq!(saga["actions"][0]["action"], "retry");
    assert_eq!(saga["actions"][0]["note"], "delivery fixed");
    assert_problem(
        app.post(&retry, &admin, &json!({"note": "again"})).await,
        409,
    )
    .await;
}

#[tokio::test]
async fn an_operator_resolves_a_failed_saga_by_hand_and_the_order_takes_its_ending() {
    let app = spawn_app().await;
    let (id, token) = failed_saga(&app).await;
    let (admin_id, admin) = app.user(&[Role::Admin]);
    let resolved = app
        .post(
            &format!("/orders/admin/sagas/{id}/resolve"),
            &admin,
            &json!({"note": "courier freed by hand"}),
        )
        .await;
    assert_eq!(resolved.status().as_u16(), 200);
    let saga: Value = resolved.json().await.expect("json");
    assert_eq!(saga["state"], "resolved");
    assert_eq!(saga["actions"][0]["actor"], admin_id.to_string());
    app.wait_for_status(&id, &token, "CANCELLED").await;
    assert_problem(
        app.post(
            &format!("/orders/admin/sagas/{}/resolve", uuid::Uuid::now_v7()),
            &admin,
            &json!({"note": "nothing"}),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn a_forward_step_given_up_on_compensates_at_once_without_waiting_for_its_clock() {
    let app = spawn_app_timed(SagaTimes {
        step_timeout: "1h",
        attempts: 3,
    })
    .await;
    app.participants.fault("shipping.create", true);
    let (id, token) = place_with(&app, "pm_card_ok").await;
    app.wait_for_status(&id, &token, "CANCELLED").await;
    assert_eq!(
        app.participants.commands_for(&id),
        [
            "payment.authorize",
            "shipping.create",
            "shipping.cancel",
            "payment.void"
        ],
        "the shipment may exist: it is called off, then the payment voided"
    );
}

#[tokio::test]
async fn operators_list_failed_sagas_across_shards_and_customers_cannot() {
    let app = spawn_app().await;
    let (id, token) = failed_saga(&app).await;
    let (_, admin) = app.user(&[Role::Admin]);
    let failed: Value = app
        .get("/orders/admin/sagas?state=failed", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(failed["items"][0]["order_id"], id);
    assert!(
        failed["items"][0]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("cancel_shipment")),
        "{failed}"
    );
    assert_eq!(
        failed["items"][0]["unresolved"][0]["step"],
        "cancel_shipment"
    );
    let running: Value = app
        .get("/orders/admin/sagas?state=running", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(running["items"], json!([]));
    assert_problem(app.get("/orders/admin/sagas", &token).await, 403).await;
    assert_problem(app.get("/orders/admin/sagas?state=lost", &admin).await, 422).await;

    let summary: Value = app
        .get("/orders/admin/sagas/summary", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        summary["counts"],
        json!({"running": 0, "compensating": 0, "completed": 0, "cancelling": 0,
               "compensated": 0, "failed": 1, "resolved": 0}),
        "{summary}"
    );
    assert_eq!(summary["recent"][0]["order_id"], id, "{summary}");
    assert_problem(app.get("/orders/admin/sagas/summary", &token).await, 403).await;
    let (_, stranger) = app.user(&[Role::Customer]);
    assert_problem(app.get(&format!("/orders/{id}/saga"), &stranger).await, 404).await;
}
