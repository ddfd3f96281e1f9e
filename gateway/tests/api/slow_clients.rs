//! Clients that open connections and hold them: half a request head, nothing at all, or
//! too many at once.

use std::time::Duration;

use shared::testing::TestIssuer;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

use crate::helpers::GatewayBuilder;

/// Generous: the machine running the tests may be loaded.
const PATIENCE: Duration = Duration::from_secs(30);

/// A gateway with the given connection flags.
async fn gateway(flags: &[(&str, &str)]) -> String {
    let issuer = TestIssuer::start().await;
    let mut builder = GatewayBuilder::new(&issuer);
    for (flag, value) in flags {
        builder = builder.arg(flag, value);
    }
    builder
        .spawn()
        .await
        .trim_start_matches("http://")
        .to_owned()
}

/// Whether the gateway has closed `stream` (whatever it wrote first), within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = [0; 1024];
    timeout(wait, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// `GET /health` on `stream`, kept alive; whether it was answered 200. Returns once the
/// whole answer has come, so that the connection is idle from then on.
async fn health_on(stream: &mut TcpStream, address: &str) -> bool {
    let request = format!("GET /health HTTP/1.1\r\nhost: {address}\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let whole = timeout(PATIENCE, async {
        let mut buffer = [0; 16 * 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
            }
            if answer_is_whole(&answer) {
                return true;
            }
        }
    })
    .await;
    matches!(whole, Ok(true)) && answer.starts_with(b"HTTP/1.1 200")
}

/// Whether `answer` holds a whole HTTP/1.1 answer: its head and the body its head announces
/// (by `Content-Length`, or chunked up to the last chunk).
fn answer_is_whole(answer: &[u8]) -> bool {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut fields);
    let Ok(httparse::Status::Complete(head_length)) = head.parse(answer) else {
        return false;
    };
    let body = &answer[head_length..];
    let field = |name: &str| {
        head.headers
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .map(|field| String::from_utf8_lossy(field.value).to_ascii_lowercase())
    };
    match (field("content-length"), field("transfer-encoding")) {
        (Some(length), _) => length
            .trim()
            .parse()
            .is_ok_and(|length: usize| body.len() >= length),
        (None, Some(coding)) if coding.contains("chunked") => body.ends_with(b"0\r\n\r\n"),
        _ => true,
    }
}

#[tokio::test]
async fn a_thousand_half_open_connections_are_closed_after_the_head_timeout_and_health_answers() {
    let address = gateway(&[
        ("--header-read-timeout", "2s"),
        ("--max-connections-per-address", "0"),
    ])
    .await;
    let mut held = Vec::new();
    for index in 0..1000 {
        let mut stream = TcpStream::connect(&address).await.expect("connected");
        if index % 5 != 0 {
            // Half a head; every fifth sends nothing at all.
            let half = format!("GET /health HTTP/1.1\r\nhost: {address}\r\nx-slow: ");
            stream.write_all(half.as_bytes()).await.expect("sent");
        }
        held.push(stream);
    }
    let health = reqwest::Client::new()
        .get(format!("http://{address}/health"))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("/health answers while a thousand connections are held");
    assert_eq!(health.status().as_u16(), 200);

    let closed = futures::future::join_all(
        held.iter_mut()
            .map(|stream| closed_within(stream, PATIENCE)),
    )
    .await;
    let open = closed.iter().filter(|closed| !**closed).count();
    assert_eq!(open, 0, "every held connection is closed");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_head_timeout_until_its_own() {
    let address = gateway(&[
        ("--header-read-timeout", "1s"),
        ("--keepalive-timeout", "4s"),
    ])
    .await;
    let mut stream = TcpStream::connect(&address).await.expect("connected");
    assert!(health_on(&mut stream, &address).await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        health_on(&mut stream, &address).await,
        "idle past the head timeout, the connection still serves"
    );
    assert!(
        closed_within(&mut stream, PATIENCE).await,
        "closed once idle too long"
    );
}

#[tokio::test]
async fn one_address_holds_no_more_connections_than_its_limit() {
    let address = gateway(&[("--max-connections-per-address", "3")]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&address).await.expect("connected");
        assert!(health_on(&mut stream, &address).await);
        held.push(stream);
    }
    let mut fourth = TcpStream::connect(&address).await.expect("connected");
    assert!(
        closed_within(&mut fourth, PATIENCE).await,
        "a fourth is closed at once"
    );
    drop(held.pop());
    // Its end is counted by the gateway shortly after.
    let mut again = None;
    for _ in 0..100 {
        let mut stream = TcpStream::connect(&address).await.expect("connected");
        if health_on(&mut stream, &address).await {
            again = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "a place freed is taken again");
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_idle_is_closed_first() {
    let address = gateway(&[
        ("--max-connections", "4"),
        ("--max-connections-per-address", "0"),
    ])
    .await;
    let mut oldest_idle = TcpStream::connect(&address).await.expect("connected");
    assert!(health_on(&mut oldest_idle, &address).await);
    let mut newer_idle = TcpStream::connect(&address).await.expect("connected");
    assert!(health_on(&mut newer_idle, &address).await);
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&address).await.expect("connected");
        let half = format!("GET /health HTTP/1.1\r\nhost: {address}\r\n");
        stream.write_all(half.as_bytes()).await.expect("sent");
        busy.push(stream);
    }
    // Let the gateway read the half heads.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut newcomer = TcpStream::connect(&address).await.expect("connected");
    assert!(
        health_on(&mut newcomer, &address).await,
        "a new connection is served"
    );
    assert!(
        closed_within(&mut oldest_idle, PATIENCE).await,
        "the longest idle made room"
    );
    assert!(
        !closed_within(&mut newer_idle, Duration::from_millis(500)).await,
        "the newer idle one is kept"
    );
    for stream in &mut busy {
        stream
            .write_all(b"\r\n")
            .await
            .expect("the rest of the head");
        let mut answer = vec![0; 64 * 1024];
        let read = timeout(PATIENCE, stream.read(&mut answer))
            .await
            .expect("answered")
            .expect("read");
        assert!(
            answer[..read].starts_with(b"HTTP/1.1 200"),
            "a connection in the middle of a head is never the one closed"
        );
    }
}
