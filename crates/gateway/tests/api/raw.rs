//! Requests written byte by byte, for what a well-behaved client library will not send: a
//! body cut off, a chunked body of a chosen shape.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Declares a body of `declared` bytes to `path`, sends `sent` of them and stops sending.
pub async fn post_cut_off(address: &str, path: &str, declared: usize, sent: usize) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connected");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: {declared}\r\n\r\n"
    );
    let mut request = head.into_bytes();
    request.extend(std::iter::repeat_n(b' ', sent));
    stream.write_all(&request).await.expect("sent");
    stream.shutdown().await.expect("write side closed");
    // Whatever the gateway answers (the client is gone), once it has done with the request.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
}

/// Sends `chunks` chunks of `size` bytes to `path` as a chunked POST; the whole answer.
pub async fn post_chunked(address: &str, path: &str, chunks: usize, size: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connected");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for _ in 0..chunks {
        request.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        request.extend(std::iter::repeat_n(b' ', size));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The gateway may answer and close before it has read it all.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}
