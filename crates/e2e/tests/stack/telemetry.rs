//! Traces leave a binary over OTLP/HTTP and join the trace of the request that caused them.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use shared::testing::{TestDatabase, postgres_server_url};

use crate::{
    platform::{env, wait_until_ready},
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
    let mut process = Process::start(
        "auth-service",
        free_port(),
        &env(&[
            ("DATABASE_URL", database.url()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
        ]),
    );
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
