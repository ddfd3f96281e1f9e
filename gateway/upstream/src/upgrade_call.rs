//! An upgrade (a WebSocket's handshake) sent to a backend under the same rules as any call:
//! an instance chosen by the balancer, its breaker and the service's passed, the upstream
//! time-out on the handshake. Never retried, never cached; the tunnel that follows is the
//! client's and the backend's, not a call.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, header, uri::PathAndQuery};
use http_body_util::Empty;
use hyper::body::Incoming;

use crate::{
    backends::Backend,
    call_policy::{CallPolicy, whole_permit},
    endpoint::Endpoint,
    failure::Failure,
    outbound::Added,
};
use gateway_net::upgrade::send_upgrade;

impl CallPolicy {
    /// Sends the upgrade request for `target` with `headers` (its `Connection` and `Upgrade`
    /// set) and `added` to one of `backend`'s instances: the backend's answer, a `101` ready
    /// to be spliced, or why there was none. A `101` or any answer below 500 counts as a
    /// success for the breakers.
    pub async fn upgrade(
        &self,
        backend: &Backend,
        target: &PathAndQuery,
        mut headers: HeaderMap,
        added: Added,
    ) -> Result<Response<Incoming>, Failure> {
        let by_instance = backend.balancer.by_instance();
        let whole = whole_permit(backend, by_instance)?;
        let picked: Option<Arc<Endpoint>> = by_instance.then(|| backend.balancer.pick(None, None));
        let endpoint: &Endpoint = picked.as_deref().unwrap_or(backend.balancer.configured());
        let breaker = endpoint.breaker.as_ref().unwrap_or(&backend.breaker);
        let permit = breaker.try_acquire()?;
        let uri = endpoint.origin.target(target).ok_or(Failure::Unreachable)?;
        for (name, value) in added {
            headers.insert(name, value);
        }
        headers.insert(header::HOST, endpoint.origin.host().clone());
        let mut request = Request::new(Empty::<Bytes>::new());
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;

        let in_flight = by_instance.then(|| endpoint.start());
        let answer = async {
            send_upgrade(endpoint.origin.address(), request)
                .await
                .map_err(|err| {
                    tracing::warn!(service = backend.name, url = %endpoint.url, error = %err, "backend unreachable for an upgrade");
                    Failure::Unreachable
                })
        };
        let (result, elapsed) = self.timed(backend, &endpoint.url, answer).await;
        drop(in_flight);
        let answered_well = result
            .as_ref()
            .is_ok_and(|response| !response.status().is_server_error());
        let failed = self.record(
            backend,
            endpoint,
            permit,
            by_instance,
            answered_well,
            elapsed,
        );
        if let Some(whole) = whole {
            whole.record(!failed);
        }
        result
    }
}
