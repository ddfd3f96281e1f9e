use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, routing::get};
use serde_json::Value;

use crate::helpers::{
    Backends, admin_url, spawn_gateway, spawn_gateway_with_redis, spawn_upstream,
};

#[tokio::test]
async fn health_reports_each_backend_up_or_down_and_only_the_operational_listener_its_address() {
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
    let down = [
        "auth-service",
        "restaurant-service",
        "delivery-service",
        "tracking-service",
        "payment-service",
    ];
    for name in down {
        assert_eq!(body["checks"][name]["status"], "down", "{name}");
    }
    let text = body.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("target") && !text.contains("error"),
        "the public report names no address: {text}"
    );

    let full: Value = reqwest::get(format!("{}/health", admin_url(&gateway)))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(full["checks"]["order-service"]["target"], orders.as_str());
    for name in down {
        assert_eq!(full["checks"][name]["error"], "unreachable", "{name}");
    }
}

#[tokio::test]
async fn a_flood_of_health_calls_asks_the_backends_once_a_second() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&asked);
    let router = Router::new().route(
        "/ready",
        get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "ready" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let orders = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let gateway = spawn_gateway(
        &Backends {
            orders,
            ..Backends::default()
        },
        "2s",
    )
    .await;
    let client = reqwest::Client::new();
    let calls = (0..20).map(|_| {
        let request = client.get(format!("{gateway}/health")).send();
        async move { request.await.expect("sent").status().as_u16() }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let asked = asked.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&asked),
        "twenty calls within a second, {asked} checks"
    );
}

#[tokio::test]
async fn metrics_and_statistics_are_served_on_the_operational_listener_alone() {
    let gateway = spawn_gateway(&Backends::default(), "2s").await;
    let admin = admin_url(&gateway);
    for path in ["/metrics", "/stats/cache", "/stats/circuit-breakers"] {
        let public = reqwest::get(format!("{gateway}{path}"))
            .await
            .expect("sent");
        assert_eq!(public.status().as_u16(), 404, "{path} on the public port");
        let operational = reqwest::get(format!("{admin}{path}")).await.expect("sent");
        assert_eq!(operational.status().as_u16(), 200, "{path} on {admin}");
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
    for stats in ["/metrics", "/stats/cache", "/stats/circuit-breakers"] {
        assert!(
            body["paths"][stats].is_null(),
            "{stats} is not on the public port"
        );
    }
    assert!(body["paths"]["/orders/{path}"]["get"]["responses"]["429"].is_object());
}
