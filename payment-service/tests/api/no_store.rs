//! No cache keeps a payment's view.

use serde_json::json;
use shared::auth::Role;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_payment_answer_is_no_store() {
    let app = spawn_app().await;
    let (_, operator) = app.user(&[Role::Admin]);
    let order = Uuid::now_v7();
    let body = json!({"order_id": order, "customer_id": Uuid::now_v7(), "amount": 1200,
                      "currency": "eur", "payment_method": "pm_card_ok"});
    let authorized = app
        .post("/payments/authorize", &operator, "no-store", &body)
        .await;
    assert_eq!(authorized.status().as_u16(), 201);
    assert_eq!(authorized.headers()["cache-control"], "no-store");
    let read = app.get(&format!("/payments/{order}"), &operator).await;
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(read.headers()["cache-control"], "no-store");
    let missing = app
        .get(&format!("/payments/{}", Uuid::now_v7()), &operator)
        .await;
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(missing.headers()["cache-control"], "no-store");
}
