//! A gRPC call sent on to its backend over the backend's shared HTTP/2 connection, through
//! its breaker, the upstream time-out on the answer's head; the body and trailers stream
//! behind. Never retried (a call may have been acted on), never cached.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, Response, uri::PathAndQuery};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::{backends::Backend, call_policy::CallPolicy, failure::Failure, outbound::Added};

/// gRPC's status for a service that cannot be reached now (grpc/doc/statuscodes.md).
const UNAVAILABLE: &str = "14";

impl CallPolicy {
    /// Sends the call `target` (`/package.Service/Method`) with `headers`, `added` and
    /// `body` to the gRPC `backend`: the backend's answer, or why there was none. A call
    /// unanswered, answered 5xx, or answered `grpc-status: 14` at once counts as a failure
    /// for the breaker.
    pub async fn send_grpc(
        &self,
        backend: &Backend,
        target: &PathAndQuery,
        mut headers: HeaderMap,
        added: Added,
        body: Body,
    ) -> Result<Response<Incoming>, Failure> {
        let Some(multiplexed) = &backend.multiplexed else {
            return Err(Failure::Unreachable);
        };
        let permit = backend.breaker.try_acquire()?;
        for (name, value) in added {
            headers.insert(name, value);
        }
        // The HTTP/2 pseudo-headers come from the URI; `TE: trailers`, which gRPC requires
        // and forwarding removed as hop-by-hop, is put back.
        headers.remove(http::header::HOST);
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        let origin = backend
            .balancer
            .configured()
            .origin
            .host()
            .to_str()
            .unwrap_or_default();
        let uri = format!("http://{origin}{target}")
            .parse()
            .map_err(|_| Failure::Unreachable)?;
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.version_mut() = http::Version::HTTP_2;
        *request.headers_mut() = headers;

        let started = Instant::now();
        let answered =
            tokio::time::timeout_at(started + self.timeout, multiplexed.send(request)).await;
        let calls = &backend.metrics;
        let result = match answered {
            Ok(Ok(response)) => {
                calls.response.increment(1);
                Ok(response)
            }
            Ok(Err(err)) => {
                tracing::warn!(service = backend.name, error = %err, "gRPC backend unreachable");
                calls.unreachable.increment(1);
                Err(Failure::Unreachable)
            }
            Err(_) => {
                calls.timeout.increment(1);
                Err(Failure::Timeout)
            }
        };
        calls.duration.record(started.elapsed().as_secs_f64());
        let success = result.as_ref().is_ok_and(|response| {
            !response.status().is_server_error()
                && response
                    .headers()
                    .get("grpc-status")
                    .map(HeaderValue::as_bytes)
                    != Some(UNAVAILABLE.as_bytes())
        });
        permit.record(success);
        result
    }
}
