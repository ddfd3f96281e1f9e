use serde_json::Value;

use crate::helpers::{Backends, spawn_gateway, spawn_gateway_with_redis, spawn_upstream};

#[tokio::test]
async fn health_reports_each_backend_up_or_down_with_its_address() {
    let orders = spawn_upstream("/orders").await;
    let gateway = spawn_gateway(
        &Backends {
            orders: orders.clone(),
            ..Backends::default()
        },
        "2s",
    )
    .await;
    let response = reqwest::get(format!("{gateway}/health"))
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["order-service"]["status"], "up");
    assert_eq!(body["checks"]["order-service"]["target"], orders.as_str());
    for down in [
        "auth-service",
        "restaurant-service",
        "delivery-service",
        "tracking-service",
        "payment-service",
    ] {
        assert_eq!(body["checks"][down]["status"], "down", "{down}");
        assert_eq!(body["checks"][down]["error"], "unreachable", "{down}");
    }
}

#[tokio::test]
async fn health_is_ok_when_every_backend_is_ready() {
    let backends = Backends {
        auth: spawn_upstream("/auth").await,
        orders: spawn_upstream("/orders").await,
        restaurants: spawn_upstream("/restaurants").await,
        delivery: spawn_upstream("/delivery").await,
        tracking: spawn_upstream("/tracking").await,
        payments: spawn_upstream("/payments").await,
    };
    let gateway = spawn_gateway(&backends, "2s").await;
    let body: Value = reqwest::get(format!("{gateway}/health"))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "ok", "{body}");
}

#[tokio::test]
async fn ready_depends_on_redis() {
    let gateway = spawn_gateway(&Backends::default(), "2s").await;
    let ready = reqwest::get(format!("{gateway}/ready"))
        .await
        .expect("sent");
    assert_eq!(ready.status().as_u16(), 200);

    let without_redis =
        spawn_gateway_with_redis(&Backends::default(), "2s", "redis://127.0.0.1:1").await;
    let ready = reqwest::get(format!("{without_redis}/ready"))
        .await
        .expect("sent");
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["redis"]["status"], "down");
}

#[tokio::test]
async fn openapi_documents_every_backend_prefix_and_the_gateway_errors() {
    let gateway = spawn_gateway(&Backends::default(), "2s").await;
    let body: Value = reqwest::get(format!("{gateway}/openapi.json"))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(body["info"]["title"], "gateway");
    for prefix in [
        "/auth",
        "/orders",
        "/restaurants",
        "/delivery",
        "/tracking",
        "/payments",
    ] {
        let item = &body["paths"][format!("{prefix}/{{path}}")];
        assert!(
            item["get"]["responses"]["502"].is_object(),
            "{prefix}: {item}"
        );
        assert!(item["delete"].is_object(), "{prefix}");
    }
    assert!(body["components"]["schemas"]["Problem"].is_object());
    let details = &body["paths"]["/api/orders/{id}/details"]["get"];
    for status in ["200", "401", "404", "502"] {
        assert!(details["responses"][status].is_object(), "details {status}");
    }
    assert!(body["components"]["schemas"]["OrderDetails"].is_object());
    assert!(body["paths"]["/admin/cache/purge"]["post"]["responses"]["403"].is_object());
    for stats in ["/stats/cache", "/stats/circuit-breakers"] {
        assert!(body["paths"][stats]["get"].is_object(), "{stats}");
    }
    assert!(body["paths"]["/orders/{path}"]["get"]["responses"]["429"].is_object());
}
