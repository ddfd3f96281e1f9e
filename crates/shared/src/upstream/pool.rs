//! Keep-alive HTTP/1.1 connections to one origin, pooled per thread: the client of the
//! gateway's proxy path.
//!
//! Written on hyper's connection API rather than with hyper-util's pooled client, whose
//! every request locks the shared pool, hashes the origin to find its connections and
//! spawns a task that waits for the connection to be free again. Here each serving thread
//! keeps its own idle connections (no lock, no hashing), and a connection goes back to them
//! when its response body ends, without a task of its own. Connections idle for longer than
//! the idle time-out are closed when the thread next uses the pool.

use std::{
    cell::RefCell,
    collections::VecDeque,
    pin::Pin,
    sync::atomic::{AtomicUsize, Ordering},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use http::{Request, Response};
use hyper::{
    body::{Frame, Incoming, SizeHint},
    client::conn::http1::{self, SendRequest},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::CONNECT_TIMEOUT;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No connection could be opened.
    #[error("cannot connect to {address}: {message}")]
    Connect {
        /// Where.
        address: String,
        /// What went wrong.
        message: String,
    },
    /// The connection failed while the request was sent or its response awaited.
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// Where to connect for an `http://` URL: its `host:port`, the port defaulted to 80; `None`
/// for another scheme or a URL without a host.
pub fn dial_address(url: &http::Uri) -> Option<String> {
    if url.scheme_str() != Some("http") {
        return None;
    }
    let authority = url.authority()?;
    Some(format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    ))
}

/// How long a connection may stay idle in a pool.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The connections of one origin (`host:port`); requests carry their path and query only.
#[derive(Debug)]
pub struct OriginPool {
    address: String,
    slot: Slot,
}

/// Where a pool's idle connections are kept in each thread's [`IDLE`], and for how long.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: usize,
    idle_timeout: Duration,
}

/// A connection waiting for its next request.
struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

thread_local! {
    /// Each thread's idle connections, by pool, the most recently used last.
    static IDLE: RefCell<Vec<VecDeque<Idle>>> = const { RefCell::new(Vec::new()) };
}

impl OriginPool {
    /// The pool of connections to `address` (`host:port`).
    pub fn new(address: impl Into<String>) -> Self {
        Self::with_idle_timeout(address, IDLE_TIMEOUT)
    }

    /// The pool of connections to `address`, closing those idle for longer than `idle_timeout`.
    pub fn with_idle_timeout(address: impl Into<String>, idle_timeout: Duration) -> Self {
        static SLOTS: AtomicUsize = AtomicUsize::new(0);
        Self {
            address: address.into(),
            slot: Slot {
                index: SLOTS.fetch_add(1, Ordering::Relaxed),
                idle_timeout,
            },
        }
    }

    /// Sends `request` on an idle connection of this thread, or on a new one. A request
    /// refused by a pooled connection that had closed meanwhile goes on another.
    pub async fn send(
        &self,
        mut request: Request<Body>,
    ) -> Result<Response<PooledBody>, PoolError> {
        loop {
            let (mut sender, reused) = match checkout(self.slot) {
                Some(sender) => (sender, true),
                // Boxed: connecting is a large future that most requests never poll.
                None => (Box::pin(self.connect()).await?, false),
            };
            if let Err(err) = sender.ready().await {
                if reused {
                    continue;
                }
                return Err(err.into());
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let slot = self.slot;
                    return Ok(response.map(|body| PooledBody::new(body, sender, slot)));
                }
                Err(mut err) => match err.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(err.into_error().into()),
                },
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Body>, PoolError> {
        let failed = |message: String| PoolError::Connect {
            address: self.address.clone(),
            message,
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address))
            .await
            .map_err(|_| failed("timed out".into()))?
            .map_err(|err| failed(err.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// This thread's most recently used idle connection of `slot` that is still open.
fn checkout(slot: Slot) -> Option<SendRequest<Body>> {
    IDLE.with_borrow_mut(|idle| {
        let connections = idle.get_mut(slot.index)?;
        let now = Instant::now();
        while let Some(Idle { sender, since }) = connections.pop_back() {
            if now.duration_since(since) > slot.idle_timeout {
                // The others have waited longer still.
                connections.clear();
                return None;
            }
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    })
}

fn checkin(slot: Slot, sender: SendRequest<Body>) {
    if sender.is_closed() {
        return;
    }
    IDLE.with_borrow_mut(|idle| {
        if idle.len() <= slot.index {
            idle.resize_with(slot.index + 1, VecDeque::new);
        }
        let connections = &mut idle[slot.index];
        let now = Instant::now();
        while connections
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) > slot.idle_timeout)
        {
            connections.pop_front();
        }
        connections.push_back(Idle { sender, since: now });
    });
}

/// A response body from a pooled connection: once it has been read to its end, the
/// connection is idle again and goes back to the pool; dropped before, it is closed.
#[derive(Debug)]
pub struct PooledBody {
    body: Incoming,
    connection: Option<(SendRequest<Body>, Slot)>,
}

impl PooledBody {
    fn new(body: Incoming, sender: SendRequest<Body>, slot: Slot) -> Self {
        let mut pooled = Self {
            body,
            connection: Some((sender, slot)),
        };
        // A body known to be empty (HEAD, 204, 304) may never be polled.
        if pooled.body.is_end_stream() {
            pooled.release();
        }
        pooled
    }

    fn release(&mut self) {
        if let Some((sender, slot)) = self.connection.take() {
            checkin(slot, sender);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.connection = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
