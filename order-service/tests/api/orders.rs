use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};

use crate::helpers::{RESTAURANT, order_of, spawn_app};

#[tokio::test]
async fn an_order_is_priced_from_the_menu_and_read_back_by_its_customer() {
    let app = spawn_app().await;
    let (customer, token) = app.user(&[Role::Customer]);
    let response = app.post("/orders", &token, &order_of(3)).await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let order: Value = response.json().await.expect("json");
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["customer_id"], customer.to_string());
    assert_eq!(
        order["total"],
        json!({"amount": 3 * 650 + 900, "currency": "EUR"})
    );
    assert_eq!(order["items"][0]["line_total"]["amount"], 1950);
    let read: Value = app.get(&location, &token).await.json().await.expect("json");
    assert_eq!(read["id"], order["id"]);
}

#[tokio::test]
async fn a_client_cannot_send_prices() {
    let app = spawn_app().await;
    let (_, token) = app.user(&[Role::Customer]);
    let mut body = order_of(1);
    body["items"][0]["price"] = json!(1);
    let problem = assert_problem(app.post("/orders", &token, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "items[0].price");
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_return_the_same_order() {
    let app = spawn_app().await;
    let (_, token) = app.user(&[Role::Customer]);
    let send = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.client
                .post(app.url("/orders"))
                .bearer_auth(&token)
                .header("idempotency-key", "k-1")
                .json(&body)
                .send()
                .await
                .expect("sent")
        }
    };
    let first = send(order_of(1)).await;
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.expect("json");
    let again = send(order_of(1)).await;
    assert_eq!(again.status().as_u16(), 200);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    assert_problem(send(order_of(2)).await, 422).await;
    let mine: Value = app.get("/orders", &token).await.json().await.expect("json");
    assert_eq!(mine["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn unknown_and_unavailable_items_and_restaurants_are_named() {
    let app = spawn_app().await;
    let (_, token) = app.user(&[Role::Customer]);
    let mut body = order_of(1);
    body["items"] = json!([{"menu_item_id": "soup", "quantity": 1}, {"menu_item_id": "caviar", "quantity": 1}, {"menu_item_id": "gone", "quantity": 1}]);
    let problem = assert_problem(app.post("/orders", &token, &body).await, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["items[1].menu_item_id", "items[2].menu_item_id"]);
    body = order_of(1);
    body["restaurant_id"] = json!("nowhere");
    let problem = assert_problem(app.post("/orders", &token, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "restaurant_id");
    body = order_of(0);
    let problem = assert_problem(app.post("/orders", &token, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "items[0].quantity");
}

#[tokio::test]
async fn a_failing_restaurant_service_is_retried_then_its_breaker_opens() {
    let app = spawn_app().await;
    let (_, token) = app.user(&[Role::Customer]);
    app.restaurants.failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let problem = assert_problem(app.post("/orders", &token, &order_of(1)).await, 503).await;
        assert_eq!(problem["service"], "restaurant-service");
    }
    let calls_when_open = app.restaurants.calls.load(Ordering::SeqCst);
    assert!(
        calls_when_open >= 6,
        "each call is retried ({calls_when_open} calls)"
    );
    assert_problem(app.post("/orders", &token, &order_of(1)).await, 503).await;
    assert_eq!(
        app.restaurants.calls.load(Ordering::SeqCst),
        calls_when_open,
        "an open breaker does not call"
    );
}

#[tokio::test]
async fn others_cannot_see_an_order_but_its_restaurant_and_admins_can() {
    let app = spawn_app().await;
    let (_, customer) = app.user(&[Role::Customer]);
    let order = app.place(&customer).await;
    let path = format!("/orders/{}", order["id"].as_str().expect("an id"));
    let (_, stranger) = app.user(&[Role::Customer]);
    assert_problem(app.get(&path, &stranger).await, 404).await;
    let owner = app.token_of(app.restaurants.owner, &[Role::RestaurantOwner]);
    assert_eq!(app.get(&path, &owner).await.status().as_u16(), 200);
    let (_, admin) = app.user(&[Role::Admin]);
    assert_eq!(app.get(&path, &admin).await.status().as_u16(), 200);
    assert_problem(
        app.get("/orders/018f0000-0000-7000-8000-000000000000", &admin)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.client.get(app.url(&path)).send().await.expect("sent"),
        401,
    )
    .await;
}

#[tokio::test]
async fn the_courier_assigned_to_an_order_sees_it_and_other_couriers_do_not() {
    let app = spawn_app().await;
    let (_, customer) = app.user(&[Role::Customer]);
    let order = app.place(&customer).await;
    let id = order["id"].as_str().expect("an id");
    let path = format!("/orders/{id}");
    let courier = app.participants.courier;
    let courier_token = app.token_of(courier, &[Role::Courier]);
    let (_, other_courier) = app.user(&[Role::Courier]);

    // The saga's shipping step records the courier delivery-service assigned.
    app.wait_for_status(id, &customer, "CONFIRMED").await;
    let seen = app.get(&path, &courier_token).await;
    assert_eq!(seen.status().as_u16(), 200);
    let body: Value = seen.json().await.expect("json");
    assert_eq!(body["courier_id"], courier.to_string());
    assert_problem(app.get(&path, &other_courier).await, 404).await;
}

#[tokio::test]
async fn my_orders_come_newest_first_filtered_and_paginated() {
    let app = spawn_app().await;
    let (_, token) = app.user(&[Role::Customer]);
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(
            app.place(&token).await["id"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }
    app.post(&format!("/orders/{}/cancel", placed[0]), &token, &json!({}))
        .await;
    app.wait_for_status(&placed[0], &token, "CANCELLED").await;
    let mut seen = Vec::new();
    let mut path = "/orders?limit=2".to_owned();
    loop {
        let page: Value = app.get(&path, &token).await.json().await.expect("json");
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|o| o["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/orders?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    placed.reverse();
    assert_eq!(seen, placed);
    let cancelled: Value = app
        .get("/orders?status=cancelled", &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(cancelled["items"].as_array().expect("items").len(), 1);
    assert_problem(app.get("/orders?status=lost", &token).await, 422).await;
    assert_problem(app.get("/orders?scope=all", &token).await, 403).await;
}

#[tokio::test]
async fn the_restaurant_moves_an_order_along_and_illegal_steps_are_409() {
    let app = spawn_app().await;
    let (_, customer) = app.user(&[Role::Customer]);
    let order = app.place(&customer).await;
    let id = order["id"].as_str().expect("an id");
    let owner = app.token_of(app.restaurants.owner, &[Role::RestaurantOwner]);
    app.wait_for_status(id, &customer, "CONFIRMED").await;
    assert_problem(
        app.post(&format!("/orders/{id}/preparing"), &owner, &json!({}))
            .await,
        409,
    )
    .await;
    assert_problem(
        app.post(&format!("/orders/{id}/accept"), &customer, &json!({}))
            .await,
        403,
    )
    .await;
    for (step, status) in [
        ("accept", "ACCEPTED"),
        ("preparing", "PREPARING"),
        ("ready", "READY"),
    ] {
        let moved: Value = app
            .post(&format!("/orders/{id}/{step}"), &owner, &json!({}))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(moved["status"], status);
    }
    assert_problem(
        app.post(&format!("/orders/{id}/accept"), &owner, &json!({}))
            .await,
        409,
    )
    .await;
    assert_problem(
        app.post(&format!("/orders/{id}/cancel"), &customer, &json!({}))
            .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn a_customer_cancels_a_pending_order_and_no_one_else_can() {
    let app = spawn_app().await;
    let (_, customer) = app.user(&[Role::Customer]);
    let id = app.place(&customer).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (_, stranger) = app.user(&[Role::Customer]);
    assert_problem(
        app.post(&format!("/orders/{id}/cancel"), &stranger, &json!({}))
            .await,
        404,
    )
    .await;
    let accepted = app
        .post(&format!("/orders/{id}/cancel"), &customer, &json!({}))
        .await;
    assert_eq!(accepted.status().as_u16(), 202, "the saga undoes it");
    assert_eq!(accepted.headers()["location"], format!("/orders/{id}/saga"));
    let cancelled = app.wait_for_status(&id, &customer, "CANCELLED").await;
    assert_eq!(cancelled["restaurant_id"], RESTAURANT);
}

#[tokio::test]
async fn openapi_documents_every_endpoint_with_its_errors() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    for path in [
        "/orders",
        "/orders/{id}",
        "/orders/{id}/cancel",
        "/orders/{id}/accept",
        "/orders/{id}/preparing",
        "/orders/{id}/ready",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    assert!(document["paths"]["/orders"]["post"]["responses"]["422"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
}
