use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

fn shipment(order: Uuid, customer: Uuid, lat: f64, lon: f64) -> Value {
    json!({"order_id": order, "customer_id": customer, "pickup": {"lat": lat, "lon": lon}, "dropoff": {"lat": 45.75, "lon": 4.85}})
}

async fn ship(app: &TestApp, admin: &str, order: Uuid, lat: f64, lon: f64) -> Value {
    let response = app
        .post(
            "/delivery/shipments",
            admin,
            "-",
            &shipment(order, Uuid::now_v7(), lat, lon),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.expect("json")
}

#[tokio::test]
async fn a_courier_registers_once_and_customers_cannot() {
    let app = spawn_app().await;
    let (_, courier) = app.user(&[Role::Courier]);
    let profile = json!({"name": "Rider", "vehicle": "Scooter"});
    let created = app
        .post("/delivery/couriers", &courier, "-", &profile)
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let body: Value = created.json().await.expect("json");
    assert_eq!(
        (body["vehicle"].as_str(), body["available"].as_bool()),
        (Some("scooter"), Some(false))
    );
    assert_problem(
        app.post("/delivery/couriers", &courier, "-", &profile)
            .await,
        409,
    )
    .await;
    let (_, customer) = app.user(&[Role::Customer]);
    assert_problem(
        app.post("/delivery/couriers", &customer, "-", &profile)
            .await,
        403,
    )
    .await;
    let (_, other) = app.user(&[Role::Courier]);
    let problem = assert_problem(
        app.post(
            "/delivery/couriers",
            &other,
            "-",
            &json!({"name": "", "vehicle": "jet"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"].as_array().expect("errors").len(), 2);
    let problem = assert_problem(
        app.put(
            "/delivery/couriers/me/location",
            &courier,
            &json!({"lat": 100.0, "lon": 0.0}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "location.lat");
}

#[tokio::test]
async fn the_nearest_free_courier_gets_the_shipment_and_is_not_given_two() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let (far, _) = app.courier_at(45.90, 4.90).await;
    let (near, _) = app.courier_at(45.76, 4.84).await;
    let (unavailable, unavailable_token) = app.courier_at(45.7601, 4.8401).await;
    app.put(
        "/delivery/couriers/me/availability",
        &unavailable_token,
        &json!({"available": false}),
    )
    .await;
    let first = ship(&app, &admin, Uuid::now_v7(), 45.76, 4.84).await;
    assert_eq!(first["status"], "ASSIGNED");
    assert_eq!(first["courier_id"], near.to_string());
    let second = ship(&app, &admin, Uuid::now_v7(), 45.76, 4.84).await;
    assert_eq!(
        second["courier_id"],
        far.to_string(),
        "the nearest is busy now"
    );
    let third = ship(&app, &admin, Uuid::now_v7(), 45.76, 4.84).await;
    assert_eq!(third["status"], "CREATED", "no one is free");
    assert!(third["courier_id"].is_null());
    assert_ne!(first["courier_id"], unavailable.to_string());
}

#[tokio::test]
async fn creating_an_orders_shipment_again_returns_the_same_one() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let order = Uuid::now_v7();
    let body = shipment(order, Uuid::now_v7(), 45.0, 4.0);
    let first: Value = app
        .post("/delivery/shipments", &admin, "-", &body)
        .await
        .json()
        .await
        .expect("json");
    let again = app.post("/delivery/shipments", &admin, "-", &body).await;
    assert_eq!(again.status().as_u16(), 200);
    let again: Value = again.json().await.expect("json");
    assert_eq!(first["id"], again["id"]);
    let (_, courier) = app.user(&[Role::Courier]);
    assert_problem(
        app.post(
            "/delivery/shipments",
            &courier,
            "-",
            &shipment(Uuid::now_v7(), Uuid::now_v7(), 1.0, 1.0),
        )
        .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn only_the_assigned_courier_moves_it_and_in_order() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let (_, courier) = app.courier_at(45.76, 4.84).await;
    let (_, rival) = app.courier_at(10.0, 10.0).await;
    let order = Uuid::now_v7();
    ship(&app, &admin, order, 45.76, 4.84).await;
    assert_problem(
        app.post(
            &format!("/delivery/{order}/delivered"),
            &courier,
            "-",
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    assert_problem(
        app.post(
            &format!("/delivery/{order}/picked-up"),
            &rival,
            "-",
            &json!({}),
        )
        .await,
        404,
    )
    .await;
    let picked: Value = app
        .post(
            &format!("/delivery/{order}/picked-up"),
            &courier,
            "-",
            &json!({}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(picked["status"], "PICKED_UP");
    assert_problem(
        app.post(
            &format!("/delivery/{order}/cancel"),
            &admin,
            "-",
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    let delivered: Value = app
        .post(
            &format!("/delivery/{order}/delivered"),
            &courier,
            "-",
            &json!({}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(delivered["status"], "DELIVERED");
    let next = ship(&app, &admin, Uuid::now_v7(), 45.76, 4.84).await;
    assert_eq!(
        next["status"], "ASSIGNED",
        "the courier is free again after delivering"
    );
}

#[tokio::test]
async fn a_cancelled_shipment_frees_its_courier_and_the_customer_sees_it() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let (courier, _) = app.courier_at(45.76, 4.84).await;
    let (customer, customer_token) = app.user(&[Role::Customer]);
    let order = Uuid::now_v7();
    app.post(
        "/delivery/shipments",
        &admin,
        "-",
        &shipment(order, customer, 45.76, 4.84),
    )
    .await;
    let cancelled: Value = app
        .post(
            &format!("/delivery/{order}/cancel"),
            &admin,
            "-",
            &json!({}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(cancelled["status"], "CANCELLED");
    let seen: Value = app
        .get(&format!("/delivery/{order}"), &customer_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(seen["status"], "CANCELLED");
    let (_, stranger) = app.user(&[Role::Customer]);
    assert_problem(app.get(&format!("/delivery/{order}"), &stranger).await, 404).await;
    let next = ship(&app, &admin, Uuid::now_v7(), 45.76, 4.84).await;
    assert_eq!(next["courier_id"], courier.to_string());
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
        "/delivery/couriers",
        "/delivery/couriers/me/availability",
        "/delivery/couriers/me/location",
        "/delivery/shipments",
        "/delivery/{order_id}",
        "/delivery/{order_id}/picked-up",
        "/delivery/{order_id}/delivered",
        "/delivery/{order_id}/cancel",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    assert!(
        document["paths"]["/delivery/{order_id}/delivered"]["post"]["responses"]["409"].is_object()
    );
    let shipment = &document["components"]["schemas"]["ShipmentView"]["properties"];
    assert!(shipment["released_at"].is_object(), "{shipment}");
}
