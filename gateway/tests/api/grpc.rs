//! gRPC through the gateway with a real client and server (the standard health service):
//! calls and server streams passed on over HTTP/2 with their trailers, admitted like any
//! request, and a call the gateway cannot deliver answered with a gRPC status.

use std::time::Duration;

use futures::StreamExt;
use shared::{auth::Role, testing::TestIssuer};
use tonic::{Code, Request, transport::Channel};
use tonic_health::{
    ServingStatus,
    pb::{HealthCheckRequest, health_check_response, health_client::HealthClient},
    server::HealthReporter,
};
use uuid::Uuid;

use crate::helpers::{CLOSED, GatewayBuilder};

/// A gRPC server with the health service, on a free port: its URL and its reporter.
async fn health_server() -> (String, HealthReporter) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("orders", ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (url, reporter)
}

/// A gateway passing the health service on to `backend`, with `flags` besides.
async fn gateway_in_front_of(issuer: &TestIssuer, backend: &str, flags: &[(&str, &str)]) -> String {
    let mut builder = GatewayBuilder::new(issuer).arg(
        "--grpc-backend",
        &format!("grpc.health.v1.Health={backend}"),
    );
    for (flag, value) in flags {
        builder = builder.arg(flag, value);
    }
    builder.spawn().await
}

async fn client(gateway: &str) -> HealthClient<Channel> {
    let channel = Channel::from_shared(gateway.to_owned())
        .expect("a URL")
        .connect()
        .await
        .expect("connected to the gateway");
    HealthClient::new(channel)
}

fn asking(service: &str, token: Option<&str>) -> Request<HealthCheckRequest> {
    let mut request = Request::new(HealthCheckRequest {
        service: service.into(),
    });
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("metadata"),
        );
    }
    request
}

const SERVING: i32 = health_check_response::ServingStatus::Serving as i32;
const NOT_SERVING: i32 = health_check_response::ServingStatus::NotServing as i32;

#[tokio::test]
async fn a_grpc_call_and_a_server_stream_are_passed_on_with_their_trailers() {
    let issuer = TestIssuer::start().await;
    let (backend, reporter) = health_server().await;
    let gateway = gateway_in_front_of(&issuer, &backend, &[]).await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let mut health = client(&gateway).await;

    let answer = health
        .check(asking("orders", Some(&token)))
        .await
        .expect("answered through the gateway");
    assert_eq!(answer.get_ref().status, SERVING);
    let unknown = health
        .check(asking("nobody", Some(&token)))
        .await
        .expect_err("an unknown service");
    assert_eq!(unknown.code(), Code::NotFound, "the backend's own status");

    let mut watched = health
        .watch(asking("orders", Some(&token)))
        .await
        .expect("a stream")
        .into_inner();
    let first = watched.next().await.expect("a first status").expect("ok");
    assert_eq!(first.status, SERVING);
    reporter
        .set_service_status("orders", ServingStatus::NotServing)
        .await;
    let changed = tokio::time::timeout(Duration::from_secs(20), watched.next())
        .await
        .expect("the change streamed through")
        .expect("a status")
        .expect("ok");
    assert_eq!(changed.status, NOT_SERVING);
}

#[tokio::test]
async fn a_grpc_call_without_a_token_is_refused_as_unauthenticated() {
    let issuer = TestIssuer::start().await;
    let (backend, _reporter) = health_server().await;
    let gateway = gateway_in_front_of(&issuer, &backend, &[]).await;
    let refused = client(&gateway)
        .await
        .check(asking("orders", None))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn an_unreachable_grpc_backend_is_unavailable_and_its_breaker_opens() {
    let issuer = TestIssuer::start().await;
    let gateway = gateway_in_front_of(&issuer, CLOSED, &[("--breaker-minimum-calls", "3")]).await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let mut health = client(&gateway).await;
    for _ in 0..3 {
        let failed = health
            .check(asking("orders", Some(&token)))
            .await
            .expect_err("unreachable");
        assert_eq!(failed.code(), Code::Unavailable);
        assert!(
            failed.message().contains("could not be reached"),
            "{failed:?}"
        );
    }
    let open = health
        .check(asking("orders", Some(&token)))
        .await
        .expect_err("refused at once");
    assert_eq!(open.code(), Code::Unavailable);
    assert!(
        open.message().contains("calls to it are paused"),
        "{open:?}"
    );
    assert!(
        open.metadata().get("retry-after").is_some(),
        "the pause is said as with any call: {open:?}"
    );
}

#[tokio::test]
async fn grpc_calls_count_against_the_rate_limit_and_past_it_are_resource_exhausted() {
    let issuer = TestIssuer::start().await;
    let (backend, _reporter) = health_server().await;
    let gateway = gateway_in_front_of(
        &issuer,
        &backend,
        &[("--rate-limits", "POST /grpc.health.v1.Health/**=1/1m")],
    )
    .await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let mut health = client(&gateway).await;
    health
        .check(asking("orders", Some(&token)))
        .await
        .expect("the first is within the quota");
    let limited = health
        .check(asking("orders", Some(&token)))
        .await
        .expect_err("the second is over it");
    assert_eq!(limited.code(), Code::ResourceExhausted);
    assert!(
        limited.metadata().get("retry-after").is_some(),
        "{limited:?}"
    );
}

#[tokio::test]
async fn a_grpc_backend_that_never_answers_is_deadline_exceeded_after_the_upstream_timeout() {
    // Accepts connections and says nothing, not even HTTP/2's preface.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", silent.local_addr().expect("an address"));
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let issuer = TestIssuer::start().await;
    let gateway = gateway_in_front_of(&issuer, &url, &[("--upstream-timeout", "300ms")]).await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let late = client(&gateway)
        .await
        .check(asking("orders", Some(&token)))
        .await
        .expect_err("never answered");
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    assert!(late.message().contains("did not answer"), "{late:?}");
    held.abort();
}
