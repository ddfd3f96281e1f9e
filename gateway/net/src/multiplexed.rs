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

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use super::*;

    /// An HTTP/2 server that answers 204: its address, how many connections it took, and
    /// a trigger that closes the first one under its client.
    async fn server() -> (String, Arc<AtomicUsize>, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("an address").to_string();
        let taken = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&taken);
        let (close_first, closed) = tokio::sync::oneshot::channel::<()>();
        let mut close_this = Some(closed);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = hyper::service::service_fn(|_| async {
                    let mut response = Response::new(Body::empty());
                    *response.status_mut() = http::StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                });
                let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), answer);
                if let Some(close) = close_this.take() {
                    // Dropped when asked: the connection closes under the client.
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = connection => {}
                            _ = close => {}
                        }
                    });
                } else {
                    tokio::spawn(connection);
                }
            }
        });
        (address, taken, close_first)
    }

    fn call(address: &str) -> Request<Body> {
        Request::builder()
            .uri(format!("http://{address}/pkg.Svc/Call"))
            .version(http::Version::HTTP_2)
            .body(Body::empty())
            .expect("a request")
    }

    #[tokio::test]
    async fn calls_share_one_connection_and_one_closed_is_opened_again() {
        let (address, taken, close_first) = server().await;
        let shared = Multiplexed::new(address.clone());
        for _ in 0..3 {
            let answer = shared.send(call(&address)).await.expect("answered");
            assert_eq!(answer.status(), http::StatusCode::NO_CONTENT);
        }
        assert_eq!(taken.load(Ordering::SeqCst), 1, "one connection for all");

        close_first.send(()).expect("the server runs");
        while shared.current().is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let answer = shared
            .send(call(&address))
            .await
            .expect("answered on a new connection");
        assert_eq!(answer.status(), http::StatusCode::NO_CONTENT);
        assert_eq!(taken.load(Ordering::SeqCst), 2);
    }
}
