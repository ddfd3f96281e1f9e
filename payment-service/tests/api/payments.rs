use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

fn authorization(order: Uuid, amount: i64, method: &str) -> Value {
    json!({"order_id": order, "amount": amount, "currency": "eur", "payment_method": method})
}

/// An operator authorizes `amount` of a customer's new order; returns (order, customer
/// token, operator token).
async fn authorized(app: &TestApp, amount: i64, method: &str) -> (Uuid, String, String) {
    let (customer_id, customer) = app.user(&[Role::Customer]);
    let (_, admin) = app.user(&[Role::Admin]);
    let order = Uuid::now_v7();
    let mut body = authorization(order, amount, method);
    body["customer_id"] = json!(customer_id);
    let response = app
        .post(
            "/payments/authorize",
            &admin,
            &format!("auth-{order}"),
            &body,
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    (order, customer, admin)
}

#[tokio::test]
async fn an_authorization_holds_the_amount_and_its_customer_sees_it() {
    let app = spawn_app().await;
    let (order, customer, _) = authorized(&app, 2599, "pm_card_ok").await;
    let response = app.get(&format!("/payments/{order}"), &customer).await;
    assert_eq!(response.status().as_u16(), 200);
    let payment: Value = response.json().await.expect("json");
    assert_eq!(payment["status"], "authorized");
    assert_eq!(payment["authorized_amount"], 2599);
    assert_eq!(payment["currency"], "EUR");
    assert_eq!(payment["ledger"].as_array().expect("ledger").len(), 2);
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn the_same_key_and_body_give_the_same_answer_and_one_payment() {
    let app = spawn_app().await;
    let (_, operator) = app.user(&[Role::Admin]);
    let order = Uuid::now_v7();
    let body = authorization(order, 1000, "pm_card_ok");
    let first: Value = app
        .post("/payments/authorize", &operator, "key-1", &body)
        .await
        .json()
        .await
        .expect("json");
    let again = app
        .post("/payments/authorize", &operator, "key-1", &body)
        .await;
    assert_eq!(again.status().as_u16(), 201);
    let again: Value = again.json().await.expect("json");
    assert_eq!(first, again);
    let other = app
        .post(
            "/payments/authorize",
            &operator,
            "key-1",
            &authorization(order, 2000, "pm_card_ok"),
        )
        .await;
    assert_problem(other, 422).await;
    let second_key = app
        .post("/payments/authorize", &operator, "key-2", &body)
        .await;
    assert_problem(second_key, 409).await;
}

#[tokio::test]
async fn test_cards_decline_with_their_reason_and_hold_nothing() {
    let app = spawn_app().await;
    let (_, operator) = app.user(&[Role::Admin]);
    for (method, code) in [
        ("pm_card_declined", "card_declined"),
        ("pm_card_insufficient_funds", "insufficient_funds"),
    ] {
        let order = Uuid::now_v7();
        let response = app
            .post(
                "/payments/authorize",
                &operator,
                method,
                &authorization(order, 500, method),
            )
            .await;
        let problem = assert_problem(response, 402).await;
        assert_eq!(problem["decline_code"], code);
        assert_eq!(problem["payment"]["status"], "declined");
    }
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn capture_then_partial_and_full_refunds_never_exceed_the_capture() {
    let app = spawn_app().await;
    let (order, customer, admin) = authorized(&app, 3000, "pm_card_ok").await;
    let captured = app
        .post(
            &format!("/payments/{order}/capture"),
            &admin,
            "c1",
            &json!({}),
        )
        .await;
    assert_eq!(captured.status().as_u16(), 200);
    let refund = |amount: i64, key: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.post(
                &format!("/payments/{order}/refund"),
                &admin,
                key,
                &json!({"amount": amount}),
            )
            .await
        }
    };
    let partial: Value = refund(1000, "r1").await.json().await.expect("json");
    assert_eq!(partial["status"], "partially_refunded");
    let too_much = assert_problem(refund(2500, "r2").await, 422).await;
    assert_eq!(too_much["errors"][0]["field"], "amount");
    let rest: Value = refund(2000, "r3").await.json().await.expect("json");
    assert_eq!(
        (rest["status"].as_str(), rest["refunded_amount"].as_i64()),
        (Some("refunded"), Some(3000))
    );
    assert_problem(refund(1, "r4").await, 409).await;
    assert_problem(refund(-5, "r5").await, 422).await;
    assert_eq!(app.imbalance().await, 0);
    let payment: Value = app
        .get(&format!("/payments/{order}"), &customer)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(payment["ledger"].as_array().expect("ledger").len(), 8);
}

#[tokio::test]
async fn a_capture_that_fails_leaves_the_hold_to_be_voided() {
    let app = spawn_app().await;
    let (order, _, admin) = authorized(&app, 1500, "pm_card_capture_fails").await;
    let failed = app
        .post(
            &format!("/payments/{order}/capture"),
            &admin,
            "c1",
            &json!({}),
        )
        .await;
    let problem = assert_problem(failed, 402).await;
    assert_eq!(problem["payment"]["status"], "capture_failed");
    let voided: Value = app
        .post(&format!("/payments/{order}/void"), &admin, "v1", &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(voided["status"], "voided");
    assert_problem(
        app.post(
            &format!("/payments/{order}/capture"),
            &admin,
            "c2",
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(app.imbalance().await, 0);
}

#[tokio::test]
async fn a_partial_capture_releases_the_rest() {
    let app = spawn_app().await;
    let (order, _, admin) = authorized(&app, 1500, "pm_card_ok").await;
    let captured: Value = app
        .post(
            &format!("/payments/{order}/capture"),
            &admin,
            "c1",
            &json!({"amount": 1000}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(captured["captured_amount"], 1000);
    assert_eq!(app.imbalance().await, 0);
    let over = app
        .post(
            &format!("/payments/{order}/refund"),
            &admin,
            "r1",
            &json!({"amount": 1200}),
        )
        .await;
    assert_problem(over, 422).await;
}

#[tokio::test]
async fn others_see_nothing_and_customers_can_neither_authorize_nor_capture() {
    let app = spawn_app().await;
    let (order, customer, admin) = authorized(&app, 700, "pm_card_ok").await;
    let (_, stranger) = app.user(&[Role::Customer]);
    assert_problem(app.get(&format!("/payments/{order}"), &stranger).await, 404).await;
    assert_eq!(
        app.get(&format!("/payments/{order}"), &admin)
            .await
            .status()
            .as_u16(),
        200
    );
    assert_problem(
        app.post(
            &format!("/payments/{order}/capture"),
            &customer,
            "c1",
            &json!({}),
        )
        .await,
        403,
    )
    .await;
    // Payments are made by the order saga from the order's total, never by a customer
    // with an amount of their choosing.
    assert_problem(
        app.post(
            "/payments/authorize",
            &customer,
            "k",
            &authorization(Uuid::now_v7(), 1, "pm_card_ok"),
        )
        .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_named_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (_, operator) = app.user(&[Role::Admin]);
    let response = app.post("/payments/authorize", &operator, "k1", &json!({"order_id": Uuid::now_v7(), "amount": 0, "currency": "euro", "payment_method": "cash"})).await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(problem["errors"].as_array().expect("errors").len(), 3);
    let missing_key = app
        .client
        .post(format!("{}/payments/authorize", app.address))
        .bearer_auth(&operator)
        .json(&authorization(Uuid::now_v7(), 100, "pm_card_ok"))
        .send()
        .await
        .expect("sent");
    let problem = assert_problem(missing_key, 400).await;
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    let pool = sqlx::PgPool::connect_with(app.database.options())
        .await
        .expect("connect");
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(payments, 0);
}

#[tokio::test]
async fn openapi_documents_every_endpoint_with_its_errors() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    for path in [
        "/payments/authorize",
        "/payments/{order_id}",
        "/payments/{order_id}/capture",
        "/payments/{order_id}/void",
        "/payments/{order_id}/refund",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    assert!(document["paths"]["/payments/authorize"]["post"]["responses"]["402"].is_object());
    let statuses = &document["components"]["schemas"]["PaymentStatus"]["enum"];
    for status in [
        "authorized",
        "declined",
        "cancelled",
        "captured",
        "capture_failed",
        "voided",
        "partially_refunded",
        "refunded",
    ] {
        assert!(
            statuses
                .as_array()
                .is_some_and(|values| values.contains(&Value::from(status))),
            "{status} in {statuses}"
        );
    }
}

#[tokio::test]
async fn idempotency_keys_are_each_caller_s_own() {
    let app = spawn_app().await;
    let (_, first) = app.user(&[Role::Admin]);
    let (_, second) = app.user(&[Role::Admin]);
    for operator in [&first, &second] {
        let response = app
            .post(
                "/payments/authorize",
                operator,
                "same-key",
                &authorization(Uuid::now_v7(), 900, "pm_card_ok"),
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "another caller's key answers nothing of mine"
        );
    }
}
