//! HTTP/2 at the edge: every feature as over HTTP/1.1 (authentication, limits, cache,
//! breakers, the dashboard's stream), and HTTP/2's own defences (idle connections closed,
//! rapid reset refused).

use std::time::Duration;

use serde_json::Value;
use shared::{auth::Role, testing::TestIssuer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::{
    curl::{TestCertificates, curl},
    helpers::{GatewayBuilder, Scripted, spawn_upstream, tls_port},
};

#[tokio::test]
async fn over_http2_a_call_is_authenticated_limited_cached_and_forwarded_as_https() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let issuer = TestIssuer::start().await;
    let orders = spawn_upstream("/orders").await;
    let restaurants = Scripted::start().await;
    restaurants.cache_control("public, max-age=300");
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&certificates.dir)
        .backend("order", &orders)
        .backend("restaurant", &restaurants.url)
        .arg("--rate-limits", "GET /orders/**=2/1m")
        .spawn()
        .await;
    let port = tls_port(&gateway);
    let https = format!("https://localhost:{port}");
    let ca = certificates.ca();
    let echo = format!("{https}/orders/echo");

    let refused = curl(&["--http2", "--cacert", &ca, &echo]).await;
    assert_eq!((refused.status, refused.version.as_str()), (401, "2"));
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );

    let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let bearer = format!("authorization: Bearer {token}");
    let with_token = ["--http2", "--cacert", &ca, "-H", &bearer, &echo];
    let echoed = curl(&with_token).await;
    assert_eq!((echoed.status, echoed.version.as_str()), (200, "2"));
    assert_eq!(echoed.header("ratelimit-remaining"), Some("1"));
    let seen: Value = serde_json::from_str(&echoed.body).expect("the echo");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
    assert_eq!(
        seen["headers"]["x-forwarded-host"],
        format!("localhost:{port}"),
        "HTTP/2's :authority, passed on as the host"
    );
    assert_eq!(curl(&with_token).await.status, 200);
    let limited = curl(&with_token).await;
    assert_eq!((limited.status, limited.version.as_str()), (429, "2"));
    assert!(limited.header("retry-after").is_some());

    let menu = format!("{https}/restaurants/r1");
    let first = curl(&["--http2", "--cacert", &ca, &menu]).await;
    assert_eq!(first.header("x-cache"), Some("MISS"));
    let again = curl(&["--http2", "--cacert", &ca, &menu]).await;
    assert_eq!(again.header("x-cache"), Some("HIT"));
    let h2c = curl(&[
        "--http2-prior-knowledge",
        &format!("{gateway}/restaurants/r1"),
    ])
    .await;
    assert_eq!(
        (h2c.version.as_str(), h2c.header("x-cache")),
        ("2", Some("HIT"))
    );
    assert_eq!(restaurants.calls(), 1, "both hits answered from the cache");
}

#[tokio::test]
async fn over_http2_failures_open_the_breaker_as_over_http1() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--cache", "false")
        .arg("--retry-attempts", "1")
        .arg("--breaker-minimum-calls", "4")
        .arg("--breaker-open-for", "30s")
        .spawn()
        .await;
    restaurants.fail_always(500);
    let url = format!("{gateway}/restaurants/r1");
    for _ in 0..4 {
        assert_eq!(curl(&["--http2-prior-knowledge", &url]).await.status, 500);
    }
    let open = curl(&["--http2-prior-knowledge", &url]).await;
    assert_eq!((open.status, open.version.as_str()), (503, "2"));
    let body: Value = serde_json::from_str(&open.body).expect("a problem");
    assert_eq!(body["type"], "/problems/circuit-open");
    assert_eq!(restaurants.calls(), 4);
}

#[tokio::test]
async fn the_dashboards_event_stream_flows_over_http2() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&certificates.dir)
        .spawn()
        .await;
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let url = format!("https://localhost:{}/dashboard/events", tls_port(&gateway));
    // curl stops the endless stream after two seconds: its output so far is the answer.
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "-N", "-i", "--http2", "--max-time", "2", "--cacert"])
        .arg(certificates.ca())
        .args(["-H", &format!("authorization: Bearer {admin}"), &url])
        .output()
        .await
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(text.contains("\ndata: {"), "a first snapshot came: {text}");
}

/// An HTTP/2 frame: its length, type, flags and stream, then its payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len())
        .expect("a short frame")
        .to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const GOAWAY: u8 = 0x7;

/// Reads frames until a GOAWAY or the connection's end: the GOAWAY's error code, if one came.
async fn goaway_of(stream: &mut tokio::net::TcpStream) -> Option<u32> {
    let mut read = Vec::new();
    let mut buf = [0; 4096];
    loop {
        while read.len() >= 9 {
            let length =
                usize::from(read[0]) << 16 | usize::from(read[1]) << 8 | usize::from(read[2]);
            if read.len() < 9 + length {
                break;
            }
            let (kind, payload) = (read[3], read[9..9 + length].to_vec());
            read.drain(..9 + length);
            if kind == GOAWAY {
                return Some(u32::from_be_bytes(
                    payload[4..8].try_into().expect("a code"),
                ));
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_rapid_reset_flood_gets_the_connection_closed_with_enhance_your_calm() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let port = gateway.rsplit(':').next().expect("a port").to_owned();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connected");
    let mut flood = [PREFACE, &frame(SETTINGS, 0, 0, &[])].concat();
    // GET / with HPACK's static table: :method GET, :scheme http, :path /, :authority "a".
    let get = [0x82, 0x86, 0x84, 0x41, 0x01, b'a'];
    for stream_id in (1..400).step_by(2) {
        flood.extend(frame(HEADERS, 0x4 | 0x1, stream_id, &get));
        flood.extend(frame(RST_STREAM, 0, stream_id, &8u32.to_be_bytes()));
    }
    stream.write_all(&flood).await.expect("sent");
    let code = tokio::time::timeout(Duration::from_secs(20), goaway_of(&mut stream))
        .await
        .expect("answered within 20 s");
    assert_eq!(code, Some(0xb), "ENHANCE_YOUR_CALM");
}

#[tokio::test]
async fn an_http2_connection_without_streams_is_closed_after_the_keepalive_timeout() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .arg("--keepalive-timeout", "1s")
        .spawn()
        .await;
    let port = gateway.rsplit(':').next().expect("a port").to_owned();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connected");
    let opened = [PREFACE, &frame(SETTINGS, 0, 0, &[])].concat();
    stream.write_all(&opened).await.expect("sent");
    let code = tokio::time::timeout(Duration::from_secs(20), goaway_of(&mut stream))
        .await
        .expect("closed within 20 s, not held open");
    assert_eq!(code, Some(0), "a graceful GOAWAY, NO_ERROR");
}

/// An HTTP/2 connection with prior knowledge to `port`, driven in the background.
async fn h2c(
    port: &str,
) -> hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>> {
    let stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connected");
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("an HTTP/2 handshake");
    tokio::spawn(connection);
    sender
}

#[tokio::test]
async fn at_the_connection_cap_an_idle_http2_connection_makes_room_but_one_with_a_stream_does_not()
{
    use http_body_util::BodyExt;
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .arg("--max-connections", "2")
        .arg("--max-connections-per-address", "0")
        .spawn()
        .await;
    let port = gateway.rsplit(':').next().expect("a port").to_owned();
    let idle = h2c(&port).await;
    let mut streaming = h2c(&port).await;
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let request = http::Request::get(format!("http://127.0.0.1:{port}/dashboard/events"))
        .header("authorization", format!("Bearer {admin}"))
        .body(http_body_util::Empty::new())
        .expect("a request");
    let answer = streaming.send_request(request).await.expect("answered");
    assert_eq!(answer.status(), 200);
    let mut events = answer.into_body();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let newcomer = curl(&["--http2-prior-knowledge", &format!("{gateway}/health")]).await;
    assert_eq!(newcomer.status, 200, "a new connection is served");
    for _ in 0..600 {
        if idle.is_closed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(idle.is_closed(), "the idle HTTP/2 connection made room");
    assert!(
        !streaming.is_closed(),
        "the one with an open stream is kept"
    );
    let frame = tokio::time::timeout(Duration::from_secs(20), events.frame())
        .await
        .expect("the stream still flows")
        .expect("a frame")
        .expect("data");
    assert!(frame.is_data());
}
