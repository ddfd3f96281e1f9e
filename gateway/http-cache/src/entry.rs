//! A stored response: its status, headers and body, when it was received and the rules it
//! is kept under. Encoded as a length-prefixed JSON head followed by the raw body, so that a
//! hit is one `GET` and the body is never re-encoded.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::rules::{Freshness, Scope};

/// One cached response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub status: StatusCode,
    /// The origin's headers as received, less those of one exchange only.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it was received, in milliseconds since the Unix epoch (wall clock: gateway
    /// instances share entries).
    pub stored_at: u64,
    pub freshness: Freshness,
    /// The values its request had for the fields its `Vary` nominates.
    pub variant: Vec<(String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    stored_at: u64,
    lifetime_ms: u64,
    initial_age_ms: u64,
    public: bool,
    stale_if_error_ms: Option<u64>,
    stale_while_revalidate_ms: Option<u64>,
    revalidate_only: bool,
    variant: Vec<(String, String)>,
}

/// Headers that belong to one exchange, not to the stored response. `Age` is generated
/// anew on every hit.
fn kept(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "x-request-id"
            | "age"
            | "set-cookie"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "traceparent"
            | "tracestate"
    ) && !name.as_str().starts_with("ratelimit-")
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    millis_since_epoch(SystemTime::now())
}

/// `at`, in milliseconds since the Unix epoch.
pub fn millis_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Entry {
    /// Its current age (RFC 9111 §4.2.3): its age on arrival plus its time here.
    pub fn age(&self, now: u64) -> Duration {
        self.freshness.initial_age + Duration::from_millis(now.saturating_sub(self.stored_at))
    }

    /// Whether it is still fresh at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        self.age(now) < self.freshness.lifetime
    }

    /// How long it has been stale at `now` (zero while fresh).
    pub fn staleness(&self, now: u64) -> Duration {
        self.age(now).saturating_sub(self.freshness.lifetime)
    }

    /// Whether it may answer, stale, for an origin that could not be reached: within
    /// `stale-if-error` when the origin gave it, else within `limit` unless the origin
    /// forbade stale answers.
    pub fn may_answer_disconnected(&self, now: u64, limit: Duration) -> bool {
        let staleness = self.staleness(now);
        match self.freshness.stale_if_error {
            Some(window) => staleness <= window,
            None => !self.freshness.revalidate_only && staleness <= limit,
        }
    }

    /// Whether it may answer, stale, in place of the origin's 5xx: only within
    /// `stale-if-error` (RFC 5861 §4), the response's or the request's.
    pub fn may_answer_for_error(&self, now: u64, requested: Option<Duration>) -> bool {
        // The client's window never overrides `must-revalidate` and the like (§4.2.4).
        let requested = requested.filter(|_| !self.freshness.revalidate_only);
        let window = self.freshness.stale_if_error.max(requested);
        window.is_some_and(|window| self.staleness(now) <= window)
    }

    /// Whether it may answer at once, stale, while it is refreshed (RFC 5861 §3).
    pub fn may_answer_while_revalidating(&self, now: u64) -> bool {
        // `must-revalidate` and the like forbid any stale use without the origin's word.
        !self.freshness.revalidate_only
            && self
                .freshness
                .stale_while_revalidate
                .is_some_and(|window| !self.is_fresh(now) && self.staleness(now) <= window)
    }

    /// How long the store keeps it: its remaining lifetime and the longest it may serve stale.
    pub fn keep_for(&self, stale_limit: Duration) -> Duration {
        let freshness = &self.freshness;
        let stale = [
            Some(stale_limit),
            freshness.stale_if_error,
            freshness.stale_while_revalidate,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_default();
        freshness.lifetime.saturating_sub(freshness.initial_age) + stale
    }

    /// The bytes the store keeps.
    pub fn encode(&self) -> Bytes {
        let freshness = &self.freshness;
        let head = Head {
            status: self.status.as_u16(),
            headers: self
                .headers
                .iter()
                .filter(|(name, _)| kept(name))
                .filter_map(|(name, value)| {
                    Some((name.to_string(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            stored_at: self.stored_at,
            lifetime_ms: millis(freshness.lifetime),
            initial_age_ms: millis(freshness.initial_age),
            public: freshness.scope == Scope::Public,
            stale_if_error_ms: freshness.stale_if_error.map(millis),
            stale_while_revalidate_ms: freshness.stale_while_revalidate.map(millis),
            revalidate_only: freshness.revalidate_only,
            variant: self.variant.clone(),
        };
        let head = serde_json::to_vec(&head).unwrap_or_default();
        let mut bytes = BytesMut::with_capacity(4 + head.len() + self.body.len());
        bytes.put_u32(u32::try_from(head.len()).unwrap_or(u32::MAX));
        bytes.put_slice(&head);
        bytes.put_slice(&self.body);
        bytes.freeze()
    }

    /// The entry in `bytes`, or `None` when they are not one (another version wrote them).
    pub fn decode(bytes: Bytes) -> Option<Self> {
        let length = usize::try_from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
        let head: Head = serde_json::from_slice(bytes.get(4..4 + length)?).ok()?;
        let headers = head
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_bytes(name.as_bytes()).ok()?,
                    HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect();
        Some(Self {
            status: StatusCode::from_u16(head.status).ok()?,
            headers,
            body: bytes.slice(4 + length..),
            stored_at: head.stored_at,
            freshness: Freshness {
                lifetime: Duration::from_millis(head.lifetime_ms),
                initial_age: Duration::from_millis(head.initial_age_ms),
                scope: if head.public {
                    Scope::Public
                } else {
                    Scope::User
                },
                stale_if_error: head.stale_if_error_ms.map(Duration::from_millis),
                stale_while_revalidate: head.stale_while_revalidate_ms.map(Duration::from_millis),
                revalidate_only: head.revalidate_only,
            },
            variant: head.variant,
        })
    }

    /// The headers a client gets from this entry at `now`: the origin's, untouched, and the
    /// entry's current `Age` (RFC 9111 §5.1).
    pub fn client_headers(&self, now: u64) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(header::AGE, HeaderValue::from(self.age(now).as_secs()));
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(lifetime: u64, initial_age: u64) -> Entry {
        Entry {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{\"a\":1}"),
            stored_at: 0,
            freshness: Freshness {
                lifetime: Duration::from_secs(lifetime),
                initial_age: Duration::from_secs(initial_age),
                scope: Scope::User,
                stale_if_error: None,
                stale_while_revalidate: Some(Duration::from_secs(30)),
                revalidate_only: false,
            },
            variant: Vec::new(),
        }
    }

    #[test]
    fn an_entry_survives_the_round_trip_without_per_exchange_headers() {
        let mut stored = entry(300, 0);
        stored.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        stored.headers.insert(
            header::DATE,
            HeaderValue::from_static("Fri, 04 Dec 2026 10:00:00 GMT"),
        );
        stored
            .headers
            .insert("x-request-id", HeaderValue::from_static("r1"));
        stored
            .headers
            .insert(header::AGE, HeaderValue::from_static("7"));
        let decoded = Entry::decode(stored.encode()).expect("decodes");
        assert_eq!(decoded.body, stored.body);
        assert_eq!(decoded.freshness, stored.freshness);
        assert_eq!(
            decoded.headers.len(),
            2,
            "the origin's Date is kept; x-request-id and Age are not"
        );
        assert!(Entry::decode(Bytes::from_static(b"junk")).is_none());
    }

    #[test]
    fn the_age_counts_from_the_age_on_arrival_and_the_origins_headers_stay_as_they_were() {
        let mut stored = entry(300, 40);
        stored.headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=300"),
        );
        let headers = stored.client_headers(100_000);
        assert_eq!(headers[header::AGE], "140");
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=300", "untouched");
        assert!(stored.is_fresh(259_999) && !stored.is_fresh(260_000));
        assert!(stored.may_answer_while_revalidating(280_000));
        assert!(!stored.may_answer_while_revalidating(291_000));
        assert_eq!(
            stored.keep_for(Duration::from_secs(600)),
            Duration::from_secs(860)
        );
    }

    #[test]
    fn a_stale_copy_answers_a_failing_origin_only_as_far_as_the_origin_allows() {
        let limit = Duration::from_secs(60);
        let mut stored = entry(10, 0);
        assert!(stored.may_answer_disconnected(70_000, limit));
        assert!(!stored.may_answer_disconnected(70_001, limit));
        assert!(
            !stored.may_answer_for_error(11_000, None),
            "a 5xx needs stale-if-error"
        );
        assert!(stored.may_answer_for_error(11_000, Some(Duration::from_secs(5))));
        stored.freshness.revalidate_only = true;
        assert!(
            !stored.may_answer_disconnected(11_000, limit),
            "must-revalidate"
        );
        stored.freshness.stale_if_error = Some(Duration::from_secs(5));
        assert!(
            stored.may_answer_disconnected(15_000, limit),
            "stale-if-error overrides it"
        );
        assert!(!stored.may_answer_disconnected(15_001, limit));
    }
}
