use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo, routing::get};
use bytes::Bytes;
use http_body_util::BodyExt;

use super::*;

/// An origin that records the port of every connection a request came on; with
/// `close`, it asks for each connection to be closed after its answer.
async fn origin(close: bool) -> (String, Arc<Mutex<HashSet<u16>>>) {
    origin_answering(close, Bytes::from_static(b"hello")).await
}

/// As [`origin`], answering `body`.
async fn origin_answering(close: bool, body: Bytes) -> (String, Arc<Mutex<HashSet<u16>>>) {
    let ports = Arc::new(Mutex::new(HashSet::new()));
    let seen = ports.clone();
    let router = Router::new().route(
        "/hello",
        get(move |ConnectInfo(peer): ConnectInfo<SocketAddr>| {
            seen.lock().expect("lock").insert(peer.port());
            let body = body.clone();
            async move {
                let mut response = Response::new(Body::from(body));
                if close {
                    response
                        .headers_mut()
                        .insert(http::header::CONNECTION, "close".parse().expect("a value"));
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address").to_string();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    (address, ports)
}

fn hello() -> Request<Body> {
    Request::get("/hello")
        .body(Body::empty())
        .expect("a request")
}

async fn read_to_end(pool: &OriginPool) -> Bytes {
    let response = pool.send(hello()).await.expect("an answer");
    response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
}

#[tokio::test]
async fn requests_one_after_another_share_one_connection() {
    let (address, ports) = origin(false).await;
    let pool = OriginPool::new(address);
    for _ in 0..5 {
        assert_eq!(read_to_end(&pool).await, "hello");
    }
    assert_eq!(ports.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_connection_whose_answer_was_dropped_unread_is_not_reused() {
    // Far more than comes with the head: most of it is still on the wire when dropped.
    let large = Bytes::from(vec![b'x'; 4 * 1024 * 1024]);
    let (address, ports) = origin_answering(false, large.clone()).await;
    let pool = OriginPool::new(address);
    drop(pool.send(hello()).await.expect("an answer"));
    assert_eq!(read_to_end(&pool).await, large);
    assert_eq!(ports.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn an_answer_that_came_whole_with_its_head_frees_its_connection_at_once() {
    let (address, ports) = origin(false).await;
    let pool = OriginPool::new(address);
    // Never read, but already read whole: nothing of it is left on the connection.
    drop(pool.send(hello()).await.expect("an answer"));
    assert_eq!(read_to_end(&pool).await, "hello");
    assert_eq!(ports.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_connection_idle_past_the_idle_timeout_is_not_reused() {
    let (address, ports) = origin(false).await;
    let pool = OriginPool::with_idle_timeout(address, Duration::from_millis(50));
    assert_eq!(read_to_end(&pool).await, "hello");
    assert_eq!(read_to_end(&pool).await, "hello");
    assert_eq!(ports.lock().expect("lock").len(), 1, "reused while fresh");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(read_to_end(&pool).await, "hello");
    assert_eq!(ports.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn connections_the_origin_closes_are_replaced_without_failing_a_request() {
    let (address, ports) = origin(true).await;
    let pool = OriginPool::new(address);
    for _ in 0..3 {
        assert_eq!(read_to_end(&pool).await, "hello");
        tokio::task::yield_now().await;
    }
    assert_eq!(ports.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn an_origin_nobody_listens_on_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("an address").to_string();
    drop(listener);
    let pool = OriginPool::new(address.clone());
    match pool.send(hello()).await {
        Err(PoolError::Connect { address: named, .. }) => assert_eq!(named, address),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[test]
fn an_http_url_is_dialled_at_its_host_and_port_and_other_schemes_are_refused() {
    let address = |url: &str| dial_address(&url.parse().expect("a URL"));
    assert_eq!(
        address("http://orders:3002/v1").as_deref(),
        Some("orders:3002")
    );
    assert_eq!(address("http://10.0.0.5").as_deref(), Some("10.0.0.5:80"));
    assert_eq!(address("https://orders:3002"), None);
}

/// An origin whose first connection's answer is cut off after a few bytes of its body; the
/// later ones answer whole. Returns its address and how many connections it accepted.
async fn origin_cutting_the_first_answer() -> (String, Arc<Mutex<u32>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address").to_string();
    let accepted = Arc::new(Mutex::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let first = {
                let mut count = counted.lock().expect("lock");
                *count += 1;
                *count == 1
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let answer: &[u8] = if first {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhel"
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
                };
                let _ = stream.write_all(answer).await;
                // The first connection closes here, 97 bytes short.
                if !first {
                    let _ = stream.read(&mut byte).await;
                }
            });
        }
    });
    (address, accepted)
}

#[tokio::test]
async fn an_answer_cut_short_fails_and_the_next_request_gets_a_new_connection() {
    let (address, accepted) = origin_cutting_the_first_answer().await;
    let pool = OriginPool::new(address);
    let cut = pool.send(hello()).await.expect("the head arrives");
    assert!(
        cut.into_body().collect().await.is_err(),
        "the body is incomplete"
    );
    assert_eq!(read_to_end(&pool).await, "hello");
    assert_eq!(*accepted.lock().expect("lock"), 2);
}
