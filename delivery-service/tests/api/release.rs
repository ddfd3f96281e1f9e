//! A shipment of the saga waits for the order's confirmation (the payment captured) before
//! its courier may take the food; one made by hand does not.

use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// Has the saga make `order`'s shipment, given to the only courier; returns their token.
async fn shipped_by_the_saga(app: &TestApp, order: Uuid) -> String {
    let (_, token) = app.courier_at(48.86, 2.35).await;
    let terms = json!({
        "order_id": order, "customer_id": Uuid::now_v7(), "restaurant_id": "r-1",
        "pickup": {"lat": 48.85, "lon": 2.34},
    });
    app.command("shipping.create", order, terms).await;
    assert_eq!(app.replies(1).await[0].kind, "shipping.created");
    token
}

async fn shipment(app: &TestApp, order: Uuid) -> Value {
    let (_, admin) = app.user(&[Role::Admin]);
    app.get(&format!("/delivery/{order}"), &admin)
        .await
        .json()
        .await
        .expect("json")
}

async fn pick_up(app: &TestApp, order: Uuid, token: &str) -> reqwest::Response {
    app.post(
        &format!("/delivery/{order}/picked-up"),
        token,
        "-",
        &json!({}),
    )
    .await
}

#[tokio::test]
async fn a_saga_shipment_is_held_until_the_order_is_confirmed_and_a_repeat_changes_nothing() {
    let app = spawn_app().await;
    let order = Uuid::now_v7();
    let courier = shipped_by_the_saga(&app, order).await;
    assert!(shipment(&app, order).await["released_at"].is_null());
    let held = assert_problem(pick_up(&app, order, &courier).await, 409).await;
    assert_eq!(held["type"], "/problems/shipment-held");
    assert_eq!(
        held["detail"],
        "The order's payment is not confirmed yet: its shipment is held until then."
    );
    assert_eq!(shipment(&app, order).await["status"], "ASSIGNED");

    app.confirm(order).await;
    let released = shipment(&app, order).await;
    assert!(released["released_at"].is_string(), "{released}");
    app.confirm(order).await;
    assert_eq!(shipment(&app, order).await, released);

    let picked = pick_up(&app, order, &courier).await;
    assert_eq!(picked.status().as_u16(), 200);
    let kinds: Vec<String> = app.events(2).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        ["delivery.assigned", "delivery.picked_up"],
        "the release itself is not announced"
    );
}

#[tokio::test]
async fn a_confirmation_with_no_shipment_or_a_cancelled_one_is_taken_and_releases_nothing() {
    let app = spawn_app().await;
    app.confirm(Uuid::now_v7()).await;
    let order = Uuid::now_v7();
    let terms = json!({
        "order_id": order, "customer_id": Uuid::now_v7(), "restaurant_id": "r-1",
        "pickup": {"lat": 48.85, "lon": 2.34},
    });
    app.command("shipping.cancel", order, terms).await;
    assert_eq!(app.replies(1).await[0].kind, "shipping.cancelled");
    app.confirm(order).await;
    let cancelled = shipment(&app, order).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(cancelled["released_at"].is_null(), "{cancelled}");
}

#[tokio::test]
async fn a_shipment_made_by_hand_is_released_and_picked_up_at_once() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let (_, courier) = app.courier_at(45.76, 4.84).await;
    let order = Uuid::now_v7();
    let body = json!({
        "order_id": order, "customer_id": Uuid::now_v7(),
        "pickup": {"lat": 45.76, "lon": 4.84}, "dropoff": {"lat": 45.75, "lon": 4.85},
    });
    let made: Value = app
        .post("/delivery/shipments", &admin, "-", &body)
        .await
        .json()
        .await
        .expect("json");
    assert!(made["released_at"].is_string(), "{made}");
    assert_eq!(pick_up(&app, order, &courier).await.status().as_u16(), 200);
}
