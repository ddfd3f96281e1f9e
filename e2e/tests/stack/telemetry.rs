//! Traces leave a binary over OTLP/HTTP and join the trace of the request that caused them.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use messaging::testing::TestBroker;
use shared::testing::{TestDatabase, postgres_server_url};

use crate::{
    platform::{Options, Platform, env, wait_until_ready},
    processes::{Process, build_binaries, free_port},
};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

/// An OTLP/HTTP collector that keeps every export it receives.
async fn spawn_collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let router = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(received): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                    received.lock().expect("not poisoned").push(body);
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, received)
}

fn trace_id_bytes() -> Vec<u8> {
    (0..TRACE_ID.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&TRACE_ID[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test]
async fn spans_are_exported_over_otlp_in_the_callers_trace_and_flushed_at_shutdown() {
    build_binaries();
    let (collector, received) = spawn_collector().await;
    let database = TestDatabase::create(&postgres_server_url(), "e2e_otlp").await;
    let broker = TestBroker::new();
    let mut variables = env(&[
        ("DATABASE_URL", database.url()),
        ("AMQP_PREFIX", broker.prefix.clone()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
    ]);
    // Quiet logs do not silence the traces.
    variables.insert("RUST_LOG", "warn".into());
    let mut process = Process::start("auth-service", free_port(), &variables);
    wait_until_ready(&process).await;
    let response = reqwest::Client::new()
        .get(format!("{}/health", process.url()))
        .header("traceparent", format!("00-{TRACE_ID}-b7ad6b7169203331-01"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);

    let status = process
        .terminate(Duration::from_secs(15))
        .expect("it exits after SIGTERM");
    assert!(status.success(), "{}", process.log_tail());

    let wanted = trace_id_bytes();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let exported = received.lock().expect("not poisoned").iter().any(|body| {
            body.windows(wanted.len())
                .any(|window| window == wanted.as_slice())
        });
        if exported {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no exported span carries the caller's trace id"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The protobuf bytes of an export's `service.name` resource attribute naming `service`.
fn service_name(service: &str) -> Vec<u8> {
    let name = service.as_bytes();
    let length = |n: usize| u8::try_from(n).expect("a short name");
    let mut bytes = vec![0x0a, length(12)];
    bytes.extend_from_slice(b"service.name");
    bytes.extend_from_slice(&[0x12, length(name.len() + 2), 0x0a, length(name.len())]);
    bytes.extend_from_slice(name);
    bytes
}

/// Whether some export carries `needle` and `also`.
fn exported(received: &Mutex<Vec<Bytes>>, needle: &[u8], also: &[u8]) -> bool {
    let has =
        |body: &Bytes, wanted: &[u8]| body.windows(wanted.len()).any(|window| window == wanted);
    received
        .lock()
        .expect("not poisoned")
        .iter()
        .any(|body| has(body, needle) && has(body, also))
}

// Several threads: the collector answers while the test waits for processes to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_one_trace_from_the_gateway_through_the_broker_to_every_participant() {
    let (collector, received) = spawn_collector().await;
    let extra = crate::binaries::all()
        .iter()
        .map(|binary| {
            (
                binary.name,
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                collector.clone(),
            )
        })
        .collect();
    let mut platform = Platform::start(Options {
        extra,
        ..Options::default()
    })
    .await;
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    platform.courier(&admin, "rider@trace.test").await;
    let customer = platform.customer("ada@trace.test").await;
    let body = serde_json::json!({
        "restaurant_id": menu.0,
        "items": [{"menu_item_id": menu.1, "quantity": 1}],
        "delivery_address": {"street": "2 Rue Y", "city": "Lyon", "postal_code": "69002", "country": "FR"},
        "payment_method": "pm_card_ok",
    });
    let placed = reqwest::Client::new()
        .post(platform.url("/orders"))
        .bearer_auth(&customer)
        .header("traceparent", format!("00-{TRACE_ID}-b7ad6b7169203331-01"))
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(placed.status().as_u16(), 201);
    let order: serde_json::Value = placed.json().await.expect("json");
    let id = order["id"].as_str().expect("an id");
    let confirmed = platform
        .wait_for(&customer, id, &["CONFIRMED"], Duration::from_secs(30))
        .await;
    assert_eq!(confirmed["status"], "CONFIRMED");

    // Stopped, each binary flushes its spans.
    for name in [
        "order-service",
        "restaurant-service",
        "payment-service",
        "delivery-service",
        "tracking-service",
    ] {
        platform.backend(name).terminate(Duration::from_secs(15));
    }
    platform.gateway.terminate(Duration::from_secs(15));
    let wanted = trace_id_bytes();
    // order-service prices the order at restaurant-service over HTTP, with the trace context;
    // payment and delivery take the saga's commands from the broker, and tracking-service
    // the events they publish.
    for service in [
        "gateway",
        "order-service",
        "restaurant-service",
        "payment-service",
        "delivery-service",
        "tracking-service",
    ] {
        assert!(
            exported(&received, &wanted, &service_name(service)),
            "{service} exported spans in the order's trace"
        );
    }
    // Below each hop, the calls it made: its database statements as child spans.
    assert!(
        exported(&received, &wanted, b"postgresql"),
        "database calls are spans of the order's trace"
    );
}
