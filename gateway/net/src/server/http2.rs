//! HTTP/2 connections: their limits, and what turns each of their requests into the shape
//! the rest of the gateway reads (a `Host` header, one `Cookie`), counting the streams open
//! so that a connection without any is idle, as one waiting for its next head is in HTTP/1.1.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{body::Body, response::Response};
use clap::Args;
use futures::future::{BoxFuture, FutureExt};
use http::{HeaderValue, Request, header};
use http_body_util::BodyExt as _;
use hyper::{body::Incoming, server::conn::http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use super::registry::Activity;

const MAX_CONCURRENT_STREAMS: u32 = 128;
const MAX_HEADER_LIST_SIZE: u32 = 32 * 1024;
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONNECTION_WINDOW: u32 = 2 * 1024 * 1024;
const MAX_PENDING_RESETS: usize = 20;

/// HTTP/2's own limits, as nginx's `http2_max_concurrent_streams` and Envoy's
/// `http2_protocol_options`.
#[derive(Debug, Clone, Args)]
pub struct Http2Args {
    /// Streams (requests) one HTTP/2 connection may have open at once.
    #[arg(long, env = "H2_MAX_CONCURRENT_STREAMS", default_value_t = MAX_CONCURRENT_STREAMS)]
    pub h2_max_concurrent_streams: u32,
    /// Largest header list (names, values and 32 bytes each, RFC 9113 §6.5.2) of a request.
    #[arg(long, env = "H2_MAX_HEADER_LIST_SIZE", default_value_t = MAX_HEADER_LIST_SIZE)]
    pub h2_max_header_list_size: u32,
    /// Bytes a client may send on one stream before the gateway reads them.
    #[arg(long, env = "H2_STREAM_WINDOW", default_value_t = STREAM_WINDOW)]
    pub h2_stream_window: u32,
    /// Bytes a client may send on all of a connection's streams before the gateway reads them.
    #[arg(long, env = "H2_CONNECTION_WINDOW", default_value_t = CONNECTION_WINDOW)]
    pub h2_connection_window: u32,
    /// Streams a client may open and reset before the gateway answers them, after which the
    /// connection is closed: the defence against rapid reset (CVE-2023-44487).
    #[arg(long, env = "H2_MAX_PENDING_RESETS", default_value_t = MAX_PENDING_RESETS)]
    pub h2_max_pending_resets: usize,
}

impl Default for Http2Args {
    fn default() -> Self {
        Self {
            h2_max_concurrent_streams: MAX_CONCURRENT_STREAMS,
            h2_max_header_list_size: MAX_HEADER_LIST_SIZE,
            h2_stream_window: STREAM_WINDOW,
            h2_connection_window: CONNECTION_WINDOW,
            h2_max_pending_resets: MAX_PENDING_RESETS,
        }
    }
}

/// hyper's HTTP/2 server with `args`' limits; a stream's tasks run on the thread serving
/// its connection.
pub(super) fn builder(args: &Http2Args) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(args.h2_max_concurrent_streams)
        .max_header_list_size(args.h2_max_header_list_size)
        .initial_stream_window_size(args.h2_stream_window)
        .initial_connection_window_size(args.h2_connection_window)
        .max_pending_accept_reset_streams(args.h2_max_pending_resets)
        // Streams the gateway itself resets for a client's errors, before closing: h2's own
        // default, stated, as the second half of the rapid-reset defence.
        .max_local_error_reset_streams(1024)
        // Pings a dead peer: a connection is not held open for a client long gone.
        .keep_alive_interval(Duration::from_secs(60))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// The streams one HTTP/2 connection has open.
#[derive(Debug)]
pub(super) struct Streams {
    open: AtomicUsize,
    changed: Notify,
    activity: Arc<Activity>,
}

impl Streams {
    pub fn new(activity: Arc<Activity>) -> Arc<Self> {
        activity.multiplexed();
        // The preface was read as a head's first bytes: with no stream yet, it waits.
        activity.wait_for_head();
        Arc::new(Self {
            open: AtomicUsize::new(0),
            changed: Notify::new(),
            activity,
        })
    }

    fn opened(self: &Arc<Self>) -> OpenStream {
        if self.open.fetch_add(1, Ordering::Relaxed) == 0 {
            self.activity.head_read();
        }
        self.changed.notify_waiters();
        OpenStream(Arc::clone(self))
    }

    /// Completes once the connection has had no stream open for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.open.load(Ordering::Relaxed) > 0 {
                changed.await;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                () = changed => {}
            }
        }
    }
}

/// One stream, open until its answer has been sent (or dropped).
#[derive(Debug)]
struct OpenStream(Arc<Streams>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.activity.wait_for_head();
        }
        self.0.changed.notify_waiters();
    }
}

/// A connection's service over HTTP/2.
#[derive(Debug, Clone)]
pub(super) struct Http2Service<C> {
    pub inner: C,
    pub streams: Arc<Streams>,
}

impl<C> hyper::service::Service<Request<Incoming>> for Http2Service<C>
where
    C: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>,
    C::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        as_http1(&mut request);
        let stream = self.streams.opened();
        self.inner
            .call(request)
            .map(move |answered| {
                answered.map(|response| {
                    // The stream stays open as long as its answer's body: the closure owns it.
                    response.map(|body| {
                        Body::new(body.map_frame(move |frame| {
                            let _open = &stream;
                            frame
                        }))
                    })
                })
            })
            .boxed()
    }
}

/// The request as HTTP/1.1 would carry it: its `:authority` as `Host` (RFC 9113 §8.3.1),
/// its cookie crumbs joined into one field (§8.2.3), as a proxy passing it on must.
fn as_http1<B>(request: &mut Request<B>) {
    if !request.headers().contains_key(header::HOST)
        && let Some(authority) = request.uri().authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(header::HOST, host);
    }
    let headers = request.headers_mut();
    if headers.get_all(header::COOKIE).iter().nth(1).is_some() {
        let joined = headers
            .get_all(header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect::<Vec<_>>()
            .join(&b"; "[..]);
        if let Ok(joined) = HeaderValue::from_bytes(&joined) {
            headers.insert(header::COOKIE, joined);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_gets_its_authority_as_host_and_its_cookie_crumbs_joined() {
        let mut request = Request::get("https://shop.test:8443/menu")
            .header(header::COOKIE, "a=1")
            .header(header::COOKIE, "b=2")
            .body(())
            .expect("a request");
        as_http1(&mut request);
        assert_eq!(request.headers()[header::HOST], "shop.test:8443");
        let cookies: Vec<_> = request.headers().get_all(header::COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1; b=2"]);

        let mut with_host = Request::get("https://shop.test/")
            .header(header::HOST, "kept.test")
            .header(header::COOKIE, "only=1")
            .body(())
            .expect("a request");
        as_http1(&mut with_host);
        assert_eq!(with_host.headers()[header::HOST], "kept.test");
        assert_eq!(with_host.headers()[header::COOKIE], "only=1");
    }
}
