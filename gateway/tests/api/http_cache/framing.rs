//! How the origin frames its body: Content-Length and Transfer-Encoding as RFC 9112 §6 has a
//! proxy read them, for cached routes.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use super::outcomes;
use crate::helpers::GatewayBuilder;

/// An origin that answers every request with `response`, byte for byte.
async fn raw_origin(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 8192];
                let mut seen = Vec::new();
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..read]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

async fn gateway_before(origin: &str) -> String {
    let issuer = shared::testing::TestIssuer::start().await;
    GatewayBuilder::new(&issuer)
        .backend("restaurant", origin)
        .arg("--upstream-timeout", "2s")
        .arg("--retry-attempts", "1")
        .spawn()
        .await
}

async fn status_and_body(gateway: &str, path: &str) -> String {
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::get(format!("{gateway}{path}")),
    )
    .await
    .expect("answered in time")
    .expect("sent");
    let status = response.status().as_u16();
    let body = tokio::time::timeout(Duration::from_secs(5), response.text())
        .await
        .expect("the body ends in time")
        .unwrap_or_default();
    format!("{status} {body}")
}

#[tokio::test]
async fn a_body_framed_by_a_repeated_length_or_by_chunks_is_read_whole_and_stored() {
    for (name, response) in [
        (
            "same-lengths",
            "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 6, 6\r\n\r\ncall 1",
        ),
        (
            "chunked",
            "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n\
             2\r\nca\r\n4\r\nll 1\r\n0\r\n\r\n",
        ),
        (
            "chunked-with-a-length",
            "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 3\r\n\
             transfer-encoding: chunked\r\n\r\n6\r\ncall 1\r\n0\r\n\r\n",
        ),
    ] {
        let origin = raw_origin(response).await;
        let gateway = gateway_before(&origin).await;
        let path = format!("/restaurants/{name}");
        assert_eq!(
            status_and_body(&gateway, &path).await,
            "200 call 1",
            "{name}"
        );
        assert_eq!(outcomes(&gateway, &path, 1).await, ["HIT"], "{name}");
        assert_eq!(
            status_and_body(&gateway, &path).await,
            "200 call 1",
            "{name}, stored"
        );
    }
}

#[tokio::test]
async fn an_invalid_length_is_a_bad_gateway_as_rfc_9112_has_a_proxy_answer_it() {
    let origin = raw_origin(
        "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: six\r\n\r\ncall 1",
    )
    .await;
    let gateway = gateway_before(&origin).await;
    for _ in 0..2 {
        let answer = status_and_body(&gateway, "/restaurants/bad-length").await;
        assert!(answer.starts_with("502 "), "{answer}");
    }
}

#[tokio::test]
async fn a_body_delimited_by_a_close_that_never_comes_times_out_instead_of_stalling() {
    // Neither a length nor chunks: the body runs until the origin closes (RFC 9112 §6.3),
    // and this origin never does.
    let origin = raw_origin("HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\n\r\ncall 1").await;
    let gateway = gateway_before(&origin).await;
    let answer = status_and_body(&gateway, "/restaurants/until-close").await;
    assert!(answer.starts_with("504 "), "{answer}");
}

#[tokio::test]
async fn a_transfer_coding_the_gateway_cannot_decode_is_a_bad_gateway_not_a_garbled_body() {
    let origin = raw_origin(
        "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: gzip, chunked\r\n\r\n\
         6\r\ncall 1\r\n0\r\n\r\n",
    )
    .await;
    let gateway = gateway_before(&origin).await;
    let answer = status_and_body(&gateway, "/restaurants/gzip").await;
    assert!(answer.starts_with("502 "), "{answer}");
}
