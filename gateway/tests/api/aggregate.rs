use std::time::Duration;

use axum::{Json, Router, extract::Path, http::StatusCode, response::IntoResponse, routing::get};
use reqwest::Client;
use serde_json::{Value, json};
use shared::{
    auth::Role,
    testing::{TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{CLOSED, GatewayBuilder, serve};

/// The five services, each knowing order `o1` and nothing else.
struct Services {
    orders: String,
    restaurants: String,
    payments: String,
    delivery: String,
    tracking: String,
}

async fn services(payment_delay: Duration) -> Services {
    let known = |id: &str| id == "o1";
    Services {
        orders: serve(Router::new().route(
            "/orders/{id}",
            get(move |Path(id): Path<String>| async move {
                if known(&id) {
                    Json(json!({"id": id, "restaurant_id": "r1", "status": "PENDING"})).into_response()
                } else {
                    StatusCode::NOT_FOUND.into_response()
                }
            }),
        ))
        .await,
        restaurants: serve(Router::new().route(
            "/restaurants/{id}",
            get(|Path(id): Path<String>| async move {
                Json(json!({"id": id, "name": "Thai Garden", "cuisine": "thai", "address": "1 Main St", "menu": []}))
            }),
        ))
        .await,
        payments: serve(Router::new().route(
            "/payments/{id}",
            get(move |Path(id): Path<String>| async move {
                tokio::time::sleep(payment_delay).await;
                Json(json!({"order_id": id, "status": "CAPTURED"}))
            }),
        ))
        .await,
        delivery: serve(Router::new().route(
            "/delivery/{id}",
            get(|Path(id): Path<String>| async move { Json(json!({"id": "d1", "order_id": id, "status": "ASSIGNED"})) }),
        ))
        .await,
        tracking: serve(Router::new().route(
            "/tracking/{id}",
            get(|Path(id): Path<String>| async move { Json(json!({"delivery_id": id, "status": "ASSIGNED", "lat": 52.5})) }),
        ))
        .await,
    }
}

async fn gateway(services: &Services, issuer: &TestIssuer) -> String {
    GatewayBuilder::new(issuer)
        .backend("order", &services.orders)
        .backend("restaurant", &services.restaurants)
        .backend("payment", &services.payments)
        .backend("delivery", &services.delivery)
        .backend("tracking", &services.tracking)
        .arg("--aggregate-part-timeout", "300ms")
        .spawn()
        .await
}

async fn details(gateway: &str, issuer: &TestIssuer, order: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{gateway}/api/orders/{order}/details"))
        .bearer_auth(issuer.token(Uuid::now_v7(), &[Role::Customer]))
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn the_details_join_the_order_restaurant_payment_delivery_and_tracking() {
    let issuer = TestIssuer::start().await;
    let services = services(Duration::ZERO).await;
    let gateway = gateway(&services, &issuer).await;
    let response = details(&gateway, &issuer, "o1").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "a customer's payment and delivery are kept by no cache"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["partial"], false, "{body}");
    assert_eq!(body["order"]["id"], "o1");
    assert_eq!(
        body["restaurant"],
        json!({"id": "r1", "name": "Thai Garden", "cuisine": "thai", "address": "1 Main St"})
    );
    assert_eq!(body["payment"]["status"], "CAPTURED");
    assert_eq!(body["delivery"]["id"], "d1");
    assert_eq!(
        body["tracking"]["delivery_id"], "d1",
        "tracking follows the delivery's id"
    );
    assert_eq!(body["failed"], json!([]));
}

#[tokio::test]
async fn the_details_answer_the_same_over_http2() {
    let issuer = TestIssuer::start().await;
    let services = services(Duration::ZERO).await;
    let gateway = gateway(&services, &issuer).await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let answer = crate::curl::curl(&[
        "--http2-prior-knowledge",
        "-H",
        &format!("authorization: Bearer {token}"),
        &format!("{gateway}/api/orders/o1/details"),
    ])
    .await;
    assert_eq!((answer.status, answer.version.as_str()), (200, "2"));
    let body: Value = serde_json::from_str(&answer.body).expect("json");
    assert_eq!(body["partial"], false, "{body}");
    assert_eq!(body["tracking"]["delivery_id"], "d1");
}

#[tokio::test]
async fn a_failed_or_slow_part_is_named_and_the_rest_still_answers() {
    let issuer = TestIssuer::start().await;
    let mut services = services(Duration::from_secs(3)).await;
    services.tracking = CLOSED.into();
    let gateway = gateway(&services, &issuer).await;
    let response = details(&gateway, &issuer, "o1").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["partial"], true);
    assert_eq!(body["order"]["id"], "o1");
    assert_eq!(body["restaurant"]["name"], "Thai Garden");
    let failed = body["failed"].as_array().expect("a list");
    let reason = |part: &str| {
        failed.iter().find(|f| f["part"] == part).map(|f| {
            (
                f["service"].as_str().unwrap_or_default().to_owned(),
                f["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
    };
    let (service, why) = reason("payment").expect("payment failed");
    assert_eq!(service, "payment-service");
    assert!(why.contains("timeout"), "{why}");
    let (service, _) = reason("tracking").expect("tracking failed");
    assert_eq!(service, "tracking-service");
    assert!(body["payment"].is_null() && body["tracking"].is_null());
}

#[tokio::test]
async fn the_details_of_a_missing_order_are_a_404_and_need_a_token() {
    let issuer = TestIssuer::start().await;
    let services = services(Duration::ZERO).await;
    let gateway = gateway(&services, &issuer).await;
    assert_problem(details(&gateway, &issuer, "nope").await, 404).await;
    let anonymous = reqwest::get(format!("{gateway}/api/orders/o1/details"))
        .await
        .expect("sent");
    assert_problem(anonymous, 401).await;
}
