//! An HTTP/2 connection to one origin with prior knowledge (h2c), shared by every call to
//! it: the transport of gRPC, whose calls are HTTP/2 streams with trailers. Opened on first
//! use and again after it closes.
//!
//! Apart from the pooled HTTP/1.1 client because a gRPC channel is one long-lived
//! connection multiplexing every call, not a pool of connections each carrying one.

use std::sync::Mutex;

use axum::body::Body;
use http::{Request, Response};
use hyper::{body::Incoming, client::conn::http2::SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::client::{DirectError, connect};

/// The shared HTTP/2 connection to `address`.
#[derive(Debug)]
pub struct Multiplexed {
    address: String,
    open: Mutex<Option<SendRequest<Body>>>,
}

impl Multiplexed {
    /// Connects to `address` (`host:port`) when first used.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            open: Mutex::new(None),
        }
    }

    /// Sends `request` (its URI absolute, for `:scheme` and `:authority`) as a stream of the
    /// shared connection, opening one if there is none; its answer's head, the body and
    /// trailers streaming behind.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Incoming>, DirectError> {
        let mut sender = match self.current() {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        sender.ready().await?;
        Ok(sender.send_request(request).await?)
    }

    fn current(&self) -> Option<SendRequest<Body>> {
        let open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.as_ref().filter(|sender| !sender.is_closed()).cloned()
    }

    async fn connect(&self) -> Result<SendRequest<Body>, DirectError> {
        let stream = connect(&self.address).await?;
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "an HTTP/2 backend connection ended");
            }
        });
        // Two calls racing to connect each open one; the last kept is shared from then on.
        *self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sender.clone());
        Ok(sender)
    }
}
