//! An origin for the client's tests that speaks HTTP/1.1 by hand: it writes exactly the
//! bytes a test scripts, and keeps exactly the bytes each request came as.

use std::sync::{Arc, Mutex};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// What the origin does with the next request it reads, whatever connection it came on.
#[derive(Debug, Clone)]
pub enum Act {
    /// Writes these bytes and waits for the next request on the connection.
    Answer(&'static [u8]),
    /// Writes these bytes and closes the connection.
    AnswerAndClose(&'static [u8]),
    /// Closes the connection without a word.
    Close,
    /// Writes these bytes as soon as the request's head has come, without reading its
    /// body, and closes the connection: a server refusing a body as it arrives.
    AnswerEarly(&'static [u8]),
}

/// A scripted origin on a port of its own.
#[derive(Debug, Clone)]
pub struct RawOrigin {
    pub address: String,
    script: Arc<Mutex<Vec<Act>>>,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<Mutex<usize>>,
}

impl RawOrigin {
    /// An origin acting out `script` in order, one act per request; past its end it
    /// answers `204`.
    pub async fn start(script: Vec<Act>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let origin = Self {
            address: listener.local_addr().expect("an address").to_string(),
            script: Arc::new(Mutex::new(script.into_iter().rev().collect())),
            requests: Arc::default(),
            connections: Arc::default(),
        };
        let serving = origin.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *serving.connections.lock().expect("lock") += 1;
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        origin
    }

    /// A pool of connections to this origin.
    pub fn pool(&self) -> super::OriginPool {
        super::OriginPool::new(self.address.clone())
    }

    /// Every request so far, as it came on the wire.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> usize {
        *self.connections.lock().expect("lock")
    }

    async fn serve(self, mut stream: TcpStream) {
        let mut buffer = Vec::new();
        while let Some(head_end) = read_head(&mut stream, &mut buffer).await {
            let act = self
                .script
                .lock()
                .expect("lock")
                .pop()
                .unwrap_or(Act::Answer(b"HTTP/1.1 204 No Content\r\n\r\n"));
            if let Act::AnswerEarly(bytes) = act {
                let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
                self.requests.lock().expect("lock").push(head);
                let _ = stream.write_all(bytes).await;
                return;
            }
            let Some(request) = read_body(&mut stream, &mut buffer, head_end).await else {
                return;
            };
            self.requests.lock().expect("lock").push(request);
            match act {
                Act::Answer(bytes) => {
                    if stream.write_all(bytes).await.is_err() {
                        return;
                    }
                }
                Act::AnswerAndClose(bytes) => {
                    let _ = stream.write_all(bytes).await;
                    return;
                }
                Act::Close | Act::AnswerEarly(_) => return,
            }
        }
    }
}

/// Reads until `buffer` holds a whole request head; where it ends. `None` at the end.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            return Some(at + 4);
        }
        read_more(stream, buffer).await?;
    }
}

/// The request whose head ends at `head_end` in `buffer`, taken off its front with its
/// body: by its `content-length` or, when chunked, up to the last chunk.
async fn read_body(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    head_end: usize,
) -> Option<String> {
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|value| value.trim().parse::<usize>().ok());
    let end = if head.contains("transfer-encoding: chunked") {
        loop {
            if let Some(at) = find(&buffer[head_end..], b"0\r\n\r\n") {
                break head_end + at + 5;
            }
            read_more(stream, buffer).await?;
        }
    } else {
        let end = head_end + length.unwrap_or(0);
        while buffer.len() < end {
            read_more(stream, buffer).await?;
        }
        end
    };
    let request = String::from_utf8_lossy(&buffer[..end]).into_owned();
    buffer.drain(..end);
    Some(request)
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(read) => {
            buffer.extend_from_slice(&chunk[..read]);
            Some(())
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
