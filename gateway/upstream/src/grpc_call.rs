//! A gRPC call sent on to its backend over the backend's shared HTTP/2 connection, through
//! its breaker, the upstream time-out on the answer's head; the body and trailers stream
//! behind. Never retried (a call may have been acted on), never cached.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, Response, uri::PathAndQuery};
use hyper::body::Incoming;

use crate::{backends::Backend, call_policy::CallPolicy, failure::Failure, outbound::Added};
use gateway_net::multiplexed::Multiplexed;

/// gRPC's status for a service that cannot be reached now (grpc/doc/statuscodes.md).
const UNAVAILABLE: &str = "14";

impl CallPolicy {
    /// Sends the call `target` (`/package.Service/Method`) with `headers`, `added` and
    /// `body` over `multiplexed`, the gRPC `backend`'s connection: the backend's answer, or
    /// why there was none. A call unanswered, answered 5xx, or answered `grpc-status: 14`
    /// at once counts as a failure for the breaker.
    pub async fn send_grpc(
        &self,
        backend: &Backend,
        multiplexed: &Multiplexed,
        target: &PathAndQuery,
        mut headers: HeaderMap,
        added: Added,
        body: Body,
    ) -> Result<Response<Incoming>, Failure> {
        let endpoint = backend.balancer.configured();
        let permit = backend.breaker.try_acquire()?;
        let uri = endpoint
            .origin
            .absolute(target)
            .ok_or(Failure::Unreachable)?;
        for (name, value) in added {
            headers.insert(name, value);
        }
        // The HTTP/2 pseudo-headers come from the URI; `TE: trailers`, which gRPC requires
        // and forwarding removed as hop-by-hop, is put back.
        headers.remove(http::header::HOST);
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.version_mut() = http::Version::HTTP_2;
        *request.headers_mut() = headers;

        let answer = async {
            multiplexed.send(request).await.map_err(|err| {
                tracing::warn!(service = backend.name, error = %err, "gRPC backend unreachable");
                Failure::Unreachable
            })
        };
        let (result, elapsed) = self.timed(backend, &endpoint.url, answer).await;
        let answered_well = result.as_ref().is_ok_and(|response| {
            !response.status().is_server_error()
                && response
                    .headers()
                    .get("grpc-status")
                    .map(HeaderValue::as_bytes)
                    != Some(UNAVAILABLE.as_bytes())
        });
        self.record(backend, endpoint, permit, false, answered_well, elapsed);
        result
    }
}
