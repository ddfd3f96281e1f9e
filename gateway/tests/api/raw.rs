//! Requests written byte by byte, for what a well-behaved client library will not send: a
//! body cut off, a chunked body of a chosen shape.

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Declares a body of `declared` bytes to `path`, sends `sent` of them and stops sending.
pub async fn post_cut_off(address: &str, path: &str, declared: usize, sent: usize) {
    let mut request = post_head(address, path, &format!("content-length: {declared}"));
    request.extend(std::iter::repeat_n(b' ', sent));
    let (mut stream, written) = connect_and_write(address, &request).await;
    written.expect("sent");
    stream.shutdown().await.expect("write side closed");
    // Whatever the gateway answers (the client is gone), once it has done with the request.
    read_answer(stream).await;
}

/// Sends `chunks` chunks of `size` bytes to `path` as a chunked POST; the whole answer.
pub async fn post_chunked(address: &str, path: &str, chunks: usize, size: usize) -> String {
    let framing = "transfer-encoding: chunked\r\nconnection: close";
    let mut request = post_head(address, path, framing);
    for _ in 0..chunks {
        request.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        request.extend(std::iter::repeat_n(b' ', size));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The gateway may answer and close before it has read it all.
    let (stream, _) = connect_and_write(address, &request).await;
    read_answer(stream).await
}

/// The head of a JSON POST to `path`, its body framed by the `framing` header lines.
fn post_head(address: &str, path: &str, framing: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         {framing}\r\n\r\n"
    )
    .into_bytes()
}

/// A connection to `address` with `request` written on it, and whether the write succeeded.
async fn connect_and_write(address: &str, request: &[u8]) -> (TcpStream, std::io::Result<()>) {
    let mut stream = TcpStream::connect(address).await.expect("connected");
    let written = stream.write_all(request).await;
    (stream, written)
}

/// Everything the gateway sends until it closes, as text.
async fn read_answer(mut stream: TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}
