//! What every call to a backend shares, whatever it carries (a request, a WebSocket's
//! handshake, a gRPC call): the upstream time-out on the answer's head, the metrics of its
//! outcome, and its record with the breaker and the balancer. One place, so that the three
//! kinds of call cannot drift apart in what they count.

use std::time::Duration;

use http::Response;
use shared::resilience::Permit;
use tokio::time::Instant;

use crate::{backends::Backend, call_policy::CallPolicy, endpoint::Endpoint, failure::Failure};

impl CallPolicy {
    /// Awaits `answer` from `backend` at `url` within the upstream time-out, counting its
    /// outcome in the backend's metrics; returns it with how long it took. `answer` fails
    /// with `Failure::Unreachable` when the backend could not be reached (its caller logs
    /// why); any other failure is not the backend's doing and is passed back uncounted.
    pub(crate) async fn timed<B>(
        &self,
        backend: &Backend,
        url: &str,
        answer: impl Future<Output = Result<Response<B>, Failure>>,
    ) -> (Result<Response<B>, Failure>, Duration) {
        let started = Instant::now();
        let answered = tokio::time::timeout_at(started + self.timeout, answer).await;
        let calls = &backend.metrics;
        let result = match answered {
            Ok(Ok(response)) => {
                if response.status().is_server_error() {
                    calls.server_error.increment(1);
                } else {
                    calls.response.increment(1);
                }
                Ok(response)
            }
            Ok(Err(Failure::Unreachable)) => {
                calls.unreachable.increment(1);
                Err(Failure::Unreachable)
            }
            Ok(Err(not_the_backends)) => return (Err(not_the_backends), started.elapsed()),
            Err(_) => {
                tracing::warn!(service = backend.name, %url, timeout = ?self.timeout, "backend timed out");
                calls.timeout.increment(1);
                Err(Failure::Timeout)
            }
        };
        let elapsed = started.elapsed();
        calls.duration.record(elapsed.as_secs_f64());
        (result, elapsed)
    }

    /// Records a finished call to `endpoint` with its breaker's `permit` and, for an
    /// instance the balancer chose (`by_instance`), with the balancer. A call slower than
    /// the slow-call limit counts as failed whatever its answer. Returns whether it failed.
    pub(crate) fn record(
        &self,
        backend: &Backend,
        endpoint: &Endpoint,
        permit: Permit<'_>,
        by_instance: bool,
        answered_well: bool,
        elapsed: Duration,
    ) -> bool {
        let slow = self.slow_call.is_some_and(|limit| elapsed > limit);
        let failed = slow || !answered_well;
        permit.record_call(!failed, slow);
        if by_instance {
            backend.balancer.record(endpoint, !failed, elapsed);
        }
        failed
    }
}
