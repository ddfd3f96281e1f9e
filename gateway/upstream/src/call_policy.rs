//! The rules every backend call follows: its breaker, the upstream time-out, and retries of
//! what may be sent again, within the retry budget.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError, atomic::Ordering::Relaxed},
    time::Duration,
};

use axum::body::Body;
use http::{HeaderMap, Request, Response, StatusCode, header};
use shared::resilience::{Attempt, Breaker, BreakerState, Permit, RetryPolicy};

use crate::{
    args::{BreakerArgs, RetryArgs},
    backends::Backend,
    endpoint::Endpoint,
    failure::Failure,
    outbound::{Outbound, OutboundBody, over_limit},
};
use gateway_net::client::{PoolError, PooledBody};

/// The rules every backend call follows.
#[derive(Debug, Clone)]
pub struct CallPolicy {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub slow_call: Option<Duration>,
}

impl CallPolicy {
    /// The caller `retry` and `breaker` describe.
    pub fn new(timeout: Duration, retry: &RetryArgs, breaker: &BreakerArgs) -> Self {
        Self {
            timeout,
            retry: RetryPolicy {
                max_attempts: retry.retry_attempts,
                base: retry.retry_base,
                cap: retry.retry_cap,
            },
            slow_call: (!breaker.breaker_slow_call.is_zero()).then_some(breaker.breaker_slow_call),
        }
    }

    /// Sends `outbound` to one of `backend`'s instances through its breaker, retrying (on
    /// another instance where there is one) when allowed.
    pub async fn send(
        &self,
        backend: &Backend,
        outbound: Outbound,
    ) -> Result<Response<PooledBody>, Failure> {
        let Outbound {
            method,
            target,
            headers,
            added,
            body,
            only,
        } = outbound;
        // With registered instances, each attempt passes the instance's own breaker and the
        // request as a whole its service's. With the configured URL alone (most requests of a
        // stack without a registry), there is nothing to choose or weigh: the attempts go to
        // it through the service's breaker, as they did before instances existed.
        let by_instance = backend.balancer.by_instance();
        let whole = whole_permit(backend, by_instance)?;
        let configured = backend.balancer.configured();
        let mut added = added;
        if !by_instance {
            // From the parsed origin, so that the client need not format it per call.
            added.push((header::HOST, configured.origin.host().clone()));
        }
        let mut headers = Some(headers);
        let (replay, mut once) = match body {
            OutboundBody::Replayable(bytes) => (Some(bytes), None),
            OutboundBody::Streaming(body) => (None, Some(body)),
        };
        backend.budget.deposit();
        let (added, replay, only) = (&added, &replay, &only);
        // The instance the last attempt went to, which a retry goes around.
        let previous = Mutex::new(None::<Arc<Endpoint>>);
        let previous = &previous;
        let result = self
            .retry
            .run_attempts(|attempt, last| {
                let body = match (replay, once.take()) {
                    // An empty body is not boxed.
                    (Some(bytes), _) if bytes.is_empty() => Body::empty(),
                    (Some(bytes), _) => Body::from(bytes.clone()),
                    (None, Some(body)) => body,
                    (None, None) => Body::empty(),
                };
                // The headers are copied only while another attempt may need them.
                let headers = if replay.is_none() || last {
                    headers.take().unwrap_or_default()
                } else {
                    headers.clone().unwrap_or_default()
                };
                let mut request = Request::new(body);
                *request.method_mut() = method.clone();
                *request.headers_mut() = headers;
                let target = &target;
                async move {
                    let picked = by_instance.then(|| {
                        let avoid = lock(previous).take();
                        let endpoint = backend.balancer.pick(avoid.as_deref(), only.as_ref());
                        *lock(previous) = Some(endpoint.clone());
                        endpoint
                    });
                    let endpoint: &Endpoint = picked.as_deref().unwrap_or(configured);
                    let breaker = endpoint.breaker.as_ref().unwrap_or(&backend.breaker);
                    let permit = match breaker.try_acquire() {
                        Ok(permit) => permit,
                        Err(open) => return Attempt::Done(Err(open.into())),
                    };
                    let Some(uri) = endpoint.origin.target(target) else {
                        return Attempt::Done(Err(Failure::Unreachable));
                    };
                    *request.uri_mut() = uri;
                    let with_host;
                    let added = if by_instance {
                        let mut own = added.clone();
                        own.push((header::HOST, endpoint.origin.host().clone()));
                        with_host = own;
                        &with_host
                    } else {
                        added
                    };
                    let in_flight = by_instance.then(|| endpoint.start());
                    let (result, elapsed) = match self.call(backend, endpoint, request, added).await
                    {
                        Ok(called) => called,
                        // Not the backend's doing: the breaker's permit goes unrecorded.
                        Err(body_failed) => return Attempt::Done(Err(body_failed)),
                    };
                    drop(in_flight);
                    let answered_well =
                        result.as_ref().is_ok_and(|r| !r.status().is_server_error());
                    self.record(
                        backend,
                        endpoint,
                        permit,
                        by_instance,
                        answered_well,
                        elapsed,
                    );
                    let may_retry = replay.is_some() && !last;
                    self.judge(backend, breaker, result, attempt, may_retry)
                }
            })
            .await;
        if let Some(whole) = whole {
            whole.record(result.as_ref().is_ok_and(|r| !r.status().is_server_error()));
        }
        result
    }

    /// One call to `backend`, bounded by the upstream time-out: its outcome and how long it
    /// took, or the failure to read the client's body (which is not the backend's doing).
    async fn call(
        &self,
        backend: &Backend,
        endpoint: &Endpoint,
        request: Request<Body>,
        added: &crate::outbound::Added,
    ) -> Result<(Result<Response<PooledBody>, Failure>, Duration), Failure> {
        let answer = async {
            endpoint
                .pool
                .send_with(request, added)
                .await
                .map_err(|err| match err {
                    PoolError::Body(err) => Failure::RequestBody {
                        too_large: over_limit(&err),
                    },
                    err => {
                        tracing::warn!(service = backend.name, url = %endpoint.url, error = %err, "backend unreachable");
                        Failure::Unreachable
                    }
                })
        };
        match self.timed(backend, &endpoint.url, answer).await {
            (Err(body_failed @ Failure::RequestBody { .. }), _) => Err(body_failed),
            called => Ok(called),
        }
    }

    /// Whether `result` is worth another attempt: a retryable status or no answer, for a
    /// request whose body can be sent again, while attempts, the breaker and the retry
    /// budget allow, and not when the backend asks for a longer pause than the cap.
    fn judge(
        &self,
        backend: &Backend,
        breaker: &Breaker,
        result: Result<Response<PooledBody>, Failure>,
        attempt: u32,
        may_retry: bool,
    ) -> Attempt<Result<Response<PooledBody>, Failure>> {
        let asked = match &result {
            Ok(response) if is_retryable_status(response.status()) => {
                match retry_after(response.headers()) {
                    Some(asked) if asked > self.retry.cap => return Attempt::Done(result),
                    asked => asked.unwrap_or_default(),
                }
            }
            Ok(_) => return Attempt::Done(result),
            Err(_) => Duration::ZERO,
        };
        if !may_retry || breaker.state() == BreakerState::Open {
            return Attempt::Done(result);
        }
        if !backend.budget.try_withdraw() {
            backend.retries_refused.fetch_add(1, Relaxed);
            metrics::counter!("gateway_retry_budget_exhausted_total", "service" => backend.name)
                .increment(1);
            return Attempt::Done(result);
        }
        backend.retries.fetch_add(1, Relaxed);
        metrics::counter!("gateway_retries_total", "service" => backend.name).increment(1);
        tracing::debug!(service = backend.name, attempt, ?asked, "retrying");
        Attempt::Again {
            outcome: result,
            after: asked,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// A `Retry-After` in seconds (the HTTP-date form is not waited for).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// With registered instances, each with its own breaker, the service's breaker's permit for
/// a request as a whole; `None` with the configured URL alone, whose calls pass the
/// service's breaker one by one.
pub(crate) fn whole_permit(
    backend: &Backend,
    by_instance: bool,
) -> Result<Option<Permit<'_>>, Failure> {
    if !by_instance {
        return Ok(None);
    }
    Ok(Some(backend.breaker.try_acquire()?))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
