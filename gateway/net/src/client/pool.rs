//! Keep-alive HTTP/1.1 connections to one origin, pooled per thread: the client of the
//! gateway's proxy path.
//!
//! Written on tokio's sockets and httparse rather than with hyper's client, whose every
//! connection is a task of its own that a request reaches through channels: a proxied
//! request then woke three tasks and crossed four channels, which profiles showed cost
//! more than everything else the gateway does to it. Here the request's own future writes
//! the request and reads the answer's head, and the answer's body reads the rest from the
//! socket as the server asks for it. Each serving thread keeps its own idle connections (no
//! lock, no hashing, see [`super::idle`]); a connection goes back to them as soon as its
//! answer has been read, which for a small answer is when its head arrives.

use std::{
    future::poll_fn,
    sync::atomic::{AtomicUsize, Ordering},
    task::Poll,
    time::Duration,
};

use axum::body::{Body, HttpBody as _};
use http::{HeaderName, HeaderValue, Method, Request, Response};

use super::{
    body::PooledBody,
    conn::{Conn, PoolError},
    idle::{Slot, checkout},
    request::{self, Framing, WriteError},
    response::{self, HeadError},
};

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
/// Clones share the idle connections.
#[derive(Debug, Clone)]
pub struct OriginPool {
    address: String,
    slot: Slot,
}

/// What became of one attempt at a request.
enum Attempt {
    /// A reused connection turned out closed before the origin could have seen the request,
    /// which can go again on another.
    Stale,
    Failed(PoolError),
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
    /// without a body that a reused connection fails before any answer came (the origin
    /// had closed it meanwhile) goes again on another, when sending it twice is safe.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<PooledBody>, PoolError> {
        self.send_with(request, &[]).await
    }

    /// As [`OriginPool::send`], with the `extra` header fields written after the request's
    /// own, in place of any it has of the same name: what a proxy adds to every request
    /// (its `Host`, `X-Forwarded-*`) costs no insertion into the request's header map.
    pub async fn send_with(
        &self,
        request: Request<Body>,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<Response<PooledBody>, PoolError> {
        let (parts, body) = request.into_parts();
        let resendable = body.is_end_stream();
        let mut body = Some(body);
        loop {
            let (mut conn, reused) = match poll_fn(|cx| Poll::Ready(checkout(self.slot, cx))).await
            {
                Some(conn) => (conn, true),
                // Boxed: connecting is a large future that most requests never poll.
                None => (
                    crate::boxed::in_place(|| Conn::open(&self.address)).await?,
                    false,
                ),
            };
            let body = body.take().unwrap_or_else(Body::empty);
            let head = request::Head {
                parts: &parts,
                extra,
                host: &self.address,
            };
            let framing = head.encode(&body, &mut conn.write);
            let retry_stale = reused && resendable;
            match self
                .exchange(conn, &parts.method, framing, body, retry_stale)
                .await
            {
                Ok(response) => return Ok(response),
                Err(Attempt::Stale) => {}
                Err(Attempt::Failed(err)) => return Err(err),
            }
        }
    }

    /// Writes the request whose head is in `conn`, then reads its answer's head.
    async fn exchange(
        &self,
        mut conn: Conn,
        method: &Method,
        framing: Framing,
        body: Body,
        retry_stale: bool,
    ) -> Result<Response<PooledBody>, Attempt> {
        let mut complete = true;
        match request::write(&mut conn, framing, body).await {
            Ok(()) => {}
            Err(WriteError::HeadUnsent(_)) if retry_stale => return Err(Attempt::Stale),
            Err(WriteError::HeadUnsent(err)) => return Err(Attempt::Failed(err.into())),
            Err(WriteError::Body(err)) => return Err(Attempt::Failed(PoolError::Body(err))),
            // The origin may have answered before reading the whole body (a 413, say) and
            // closed: that answer is worth more than the failed write.
            Err(WriteError::Origin(err)) if may_have_answered(&err) => complete = false,
            Err(WriteError::Origin(err)) => return Err(Attempt::Failed(err.into())),
        }
        let head = match response::read_head(&mut conn, method).await {
            Ok(head) => head,
            Err(HeadError::NothingCame(_)) if retry_stale && is_idempotent(method) => {
                return Err(Attempt::Stale);
            }
            Err(HeadError::NothingCame(err) | HeadError::Failed(err)) => {
                return Err(Attempt::Failed(err));
            }
        };
        Ok(PooledBody::after(head, conn, self.slot, complete))
    }
}

/// Whether an answer may be waiting behind a write the origin refused: it reset or closed
/// the connection, as a server does after answering early.
fn may_have_answered(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
    matches!(err.kind(), BrokenPipe | ConnectionReset)
}

/// Methods a request may be sent twice with (RFC 9110 §9.2.2).
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
