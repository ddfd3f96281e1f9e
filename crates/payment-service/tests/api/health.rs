use shared::testing::{TcpProxy, assert_problem, get_json, ready_until};

use crate::helpers::{spawn_app, spawn_with};

const CLOSED_POSTGRES: &str = "postgres://postgres@127.0.0.1:1/payments";
const CLOSED_BROKER: &str = "amqp://guest:guest@127.0.0.1:1/%2f";

#[tokio::test]
async fn ready_names_postgres_and_rabbitmq_as_up() {
    let app = spawn_app().await;
    let (status, body) = ready_until(&app.address, |status| status == 200).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["service"], "payment-service");
    assert_eq!(body["checks"]["postgres"]["status"], "up");
    assert_eq!(body["checks"]["rabbitmq"]["status"], "up");
    let (status, _) = get_json(&format!("{}/payments/ready", app.address)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn with_its_stores_unreachable_it_still_starts_and_says_which_are_down() {
    let address = spawn_with(CLOSED_POSTGRES, CLOSED_BROKER).await;
    assert_eq!(get_json(&format!("{address}/health")).await.0, 200);
    let (status, body) = get_json(&format!("{address}/ready")).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["postgres"]["status"], "down");
    assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
}

#[tokio::test]
async fn with_only_the_broker_down_ready_names_it_alone() {
    let app = spawn_app().await;
    let address = spawn_with(&app.database.url(), CLOSED_BROKER).await;
    let (_, body) = get_json(&format!("{address}/ready")).await;
    assert_eq!(body["checks"]["postgres"]["status"], "up");
    assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    assert_problem(app.get("/payments/nowhere/at/all").await, 404).await;
}

#[tokio::test]
async fn openapi_names_the_service() {
    let app = spawn_app().await;
    let (_, body) = get_json(&format!("{}/openapi.json", app.address)).await;
    assert_eq!(body["info"]["title"], "payment-service");
    assert!(body["paths"]["/payments/ready"].is_object());
}

#[tokio::test]
async fn the_broker_connection_comes_back_after_the_broker_does() {
    let app = spawn_app().await;
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().expect("an address")).await;
    let broker = format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port());
    let address = spawn_with(&app.database.url(), &broker).await;
    assert_eq!(ready_until(&address, |status| status == 200).await.0, 200);

    proxy.cut();
    let (status, body) = ready_until(&address, |status| status == 503).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["rabbitmq"]["status"], "down");

    proxy.restore();
    let (status, body) = ready_until(&address, |status| status == 200).await;
    assert_eq!(status, 200, "{body}");
}
