//! A request on its way to a backend, and whether it may be sent twice.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, uri::PathAndQuery};
use smallvec::SmallVec;

use crate::balance::Selector;

/// A request on its way to a backend.
#[derive(Debug)]
pub struct Outbound {
    pub method: Method,
    /// Path and query, as received.
    pub target: PathAndQuery,
    pub headers: HeaderMap,
    /// Fields written after `headers`, in place of any of the same name.
    pub added: Added,
    pub body: OutboundBody,
    /// The instances it may go to (an experiment's variant); any routed one if `None`.
    pub only: Option<Selector>,
}

/// Header fields the gateway adds to a forwarded request (`X-Forwarded-*`, the backend's
/// `Host`), written after the client's own rather than inserted among them.
pub type Added = SmallVec<[(HeaderName, HeaderValue); 4]>;

/// A body that can be sent again (so the request may be retried), or one that streams once.
#[derive(Debug)]
pub enum OutboundBody {
    Replayable(Bytes),
    Streaming(Body),
}

/// Whether reading a body failed on the size limit.
pub fn over_limit(err: &axum::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Whether `method` (or an `Idempotency-Key`) makes a request safe to send twice.
pub fn is_idempotent(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    ) || headers.contains_key("idempotency-key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_methods_and_keyed_requests_may_be_retried() {
        let none = HeaderMap::new();
        assert!(is_idempotent(&Method::GET, &none));
        assert!(is_idempotent(&Method::DELETE, &none));
        assert!(!is_idempotent(&Method::POST, &none));
        let mut keyed = HeaderMap::new();
        keyed.insert("idempotency-key", HeaderValue::from_static("k1"));
        assert!(is_idempotent(&Method::POST, &keyed));
    }
}
