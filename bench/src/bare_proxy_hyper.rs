//! [`crate::bare_proxy`] with hyper's client in place of the gateway's own: the same server,
//! service and forwarding, but each upstream call goes through `hyper::client::conn::http1`
//! (a handshake per connection, the connection driven by a task spawned on the serving
//! thread's runtime, requests handed to it through its `SendRequest`). Each serving thread
//! keeps its own idle senders, as the gateway's client keeps its own connections: no lock,
//! and no task of another thread is ever woken. It is hyper's client at its most favourable
//! for this path, measured against the gateway's (`docs/adr/0001-own-http-client.md`).

use std::{
    cell::RefCell,
    pin::Pin,
    sync::atomic::{AtomicUsize, Ordering},
    task::{Context, Poll},
};

use axum::{body::Body, http::Request, response::Response};
use hyper::{
    body::{Body as HttpBody, Frame, Incoming, SizeHint},
    client::conn::http1::{self, SendRequest},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::bare_proxy::{BareProxy, Upstream};

/// The bare proxy over hyper's client.
pub type BareHyperProxy = BareProxy<HyperPool>;

impl Upstream for HyperPool {
    async fn forward(&self, request: Request<Body>) -> Option<Response> {
        let response = self.send(request).await.ok()?;
        Some(response.map(Body::new))
    }
}

/// hyper's HTTP/1.1 connections to one origin (`host:port`), their idle senders kept per
/// thread. Requests carry their path and query only.
#[derive(Debug)]
pub struct HyperPool {
    address: String,
    /// Where this pool's idle senders are kept in each thread's [`IDLE`].
    slot: usize,
}

thread_local! {
    /// Each thread's idle senders, by pool, the most recently used last.
    static IDLE: RefCell<Vec<Vec<SendRequest<Body>>>> = const { RefCell::new(Vec::new()) };
}

/// At most this many idle senders per pool and thread; beyond, the oldest are closed.
const MAX_IDLE: usize = 256;

impl HyperPool {
    /// The pool of connections to `address` (`host:port`).
    pub fn new(address: impl Into<String>) -> Self {
        static SLOTS: AtomicUsize = AtomicUsize::new(0);
        Self {
            address: address.into(),
            slot: SLOTS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Sends `request` on a ready idle connection of this thread, or on a new one. A request
    /// a reused connection gives back unsent (it had closed meanwhile) goes on a new one.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Checkin>, SendError> {
        let mut request = request;
        loop {
            let (mut sender, reused) = match self.checkout() {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let slot = self.slot;
                    return Ok(response.map(|body| Checkin {
                        body,
                        sender: Some(sender),
                        slot,
                    }));
                }
                Err(mut err) => match err.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(SendError::Http(err.into_error())),
                },
            }
        }
    }

    /// This thread's most recently used idle sender that is ready for a request. Those whose
    /// connection has closed are dropped; those still busy (their last answer not yet read
    /// whole by their connection's task) stay for later.
    fn checkout(&self) -> Option<SendRequest<Body>> {
        IDLE.with_borrow_mut(|idle| {
            let senders = idle.get_mut(self.slot)?;
            let mut found = None;
            let mut busy = 0;
            while let Some(index) = senders.len().checked_sub(busy + 1) {
                let sender = &senders[index];
                if sender.is_closed() {
                    senders.remove(index);
                } else if sender.is_ready() {
                    found = Some(senders.remove(index));
                    break;
                } else {
                    busy += 1;
                }
            }
            found
        })
    }

    /// A new connection: its sender, once the connection's task, spawned on this thread's
    /// runtime, is ready for the first request.
    async fn connect(&self) -> Result<SendRequest<Body>, SendError> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(SendError::Connect)?;
        // Requests are written whole; Nagle's algorithm would only hold their last segment.
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(SendError::Http)?;
        tokio::spawn(connection);
        sender.ready().await.map_err(SendError::Http)?;
        Ok(sender)
    }
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be opened.
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// hyper's connection failed.
    #[error(transparent)]
    Http(hyper::Error),
}

/// Puts `sender` back among this thread's idle ones for `slot`.
fn checkin(slot: usize, sender: SendRequest<Body>) {
    IDLE.with_borrow_mut(|idle| {
        if idle.len() <= slot {
            idle.resize_with(slot + 1, Vec::new);
        }
        let senders = &mut idle[slot];
        if senders.len() >= MAX_IDLE {
            senders.remove(0);
        }
        senders.push(sender);
    });
}

/// An answer's body; once it has been read to its end, its connection's sender goes back to
/// the thread's idle ones (dropped unread, the connection is closed with it).
#[derive(Debug)]
pub struct Checkin {
    body: Incoming,
    sender: Option<SendRequest<Body>>,
    slot: usize,
}

impl Checkin {
    fn done(&mut self) {
        if let Some(sender) = self.sender.take() {
            checkin(self.slot, sender);
        }
    }
}

impl HttpBody for Checkin {
    type Data = <Incoming as HttpBody>::Data;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.done(),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.done(),
            Poll::Ready(Some(Err(_))) => this.sender = None,
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
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr, SocketAddr},
        sync::Arc,
        time::Duration,
    };

    use axum::http::StatusCode;

    use axum::serve::ListenerExt as _;
    use gateway_net::server::Server;

    use super::*;

    /// The upstream's routes on a port of their own, counting the connections it accepts.
    async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        let listener = listener.tap_io(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        tokio::spawn(async move { axum::serve(listener, crate::router()).await });
        (address, accepted)
    }

    /// A bare proxy with one serving thread to `upstream`; its port.
    fn proxy_to(upstream: String) -> u16 {
        let proxy = BareHyperProxy::through(HyperPool::new(upstream));
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let server = Server::bind_workers(localhost, 0, proxy, Duration::from_secs(1), 1)
            .expect("a port for the proxy");
        let port = server.port();
        tokio::spawn(server.run_until_stopped());
        port
    }

    /// A client of its own: a new connection to the proxy.
    fn new_client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client")
    }

    #[tokio::test]
    async fn requests_reach_the_upstream_and_its_answer_comes_back() {
        let (upstream, _) = upstream().await;
        let port = proxy_to(upstream.to_string());
        let client = new_client();
        let get = |path: &str| client.get(format!("http://127.0.0.1:{port}{path}")).send();
        let response = get("/orders/bench").await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "the upstream's own header"
        );
        let body = response.bytes().await.expect("a body");
        assert_eq!(body, crate::BODY);
        let missing = get("/nothing/here").await.expect("an answer");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        // A request body goes on too: the upstream answers a POST to a GET route itself.
        let post = client
            .post(format!("http://127.0.0.1:{port}/orders/bench"))
            .body("{}")
            .send()
            .await
            .expect("an answer");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn one_upstream_connection_serves_request_after_request_of_any_client() {
        let (upstream, accepted) = upstream().await;
        let port = proxy_to(upstream.to_string());
        let url = format!("http://127.0.0.1:{port}/orders/bench");
        let client = new_client();
        for _ in 0..20 {
            let body = client.get(&url).send().await.expect("an answer").bytes();
            assert_eq!(body.await.expect("a body"), crate::BODY);
        }
        // Other clients, other connections to the proxy: the same thread's idle sender.
        for _ in 0..5 {
            let response = new_client().get(&url).send().await.expect("an answer");
            assert_eq!(response.bytes().await.expect("a body"), crate::BODY);
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 1, "connections opened");
    }

    #[tokio::test]
    async fn concurrent_requests_open_connections_that_are_then_reused() {
        let (upstream, accepted) = upstream().await;
        let port = proxy_to(upstream.to_string());
        let url = format!("http://127.0.0.1:{port}/orders/bench");
        for _ in 0..3 {
            let answers = (0..4).map(|_| {
                let url = url.clone();
                async move { new_client().get(&url).send().await?.bytes().await }
            });
            for body in futures::future::join_all(answers).await {
                assert_eq!(body.expect("an answer"), crate::BODY);
            }
        }
        let opened = accepted.load(Ordering::Relaxed);
        assert!(
            (1..=4).contains(&opened),
            "{opened} connections for 12 requests, 4 at a time"
        );
    }

    #[tokio::test]
    async fn an_upstream_that_is_not_there_is_a_bad_gateway() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port")
            .local_addr()
            .expect("an address");
        let port = proxy_to(closed.to_string());
        let response = new_client()
            .get(format!("http://127.0.0.1:{port}/orders/bench"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    }
}
