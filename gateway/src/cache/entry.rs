//! A stored response: its status, headers and body, when it was stored and for how long it
//! is fresh. Encoded as a length-prefixed JSON head followed by the raw body, so that a hit
//! is one `GET` and the body is never re-encoded.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::control::Scope;

/// One cached response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Milliseconds since the Unix epoch (wall clock: gateway instances share entries).
    pub stored_at: u64,
    pub ttl: Duration,
    pub scope: Scope,
}

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    stored_at: u64,
    ttl_ms: u64,
    public: bool,
}

/// Headers that belong to one exchange, not to the stored response.
fn kept(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "x-request-id"
            | "date"
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
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Entry {
    /// How long ago it was stored.
    pub fn age(&self, now: u64) -> Duration {
        Duration::from_millis(now.saturating_sub(self.stored_at))
    }

    /// Whether it is still fresh at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        self.age(now) < self.ttl
    }

    /// The bytes stored in Redis.
    pub fn encode(&self) -> Bytes {
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
            ttl_ms: u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX),
            public: self.scope == Scope::Public,
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
            ttl: Duration::from_millis(head.ttl_ms),
            scope: if head.public {
                Scope::Public
            } else {
                Scope::User
            },
        })
    }

    /// The response headers a client gets from this entry, `Age` and the remaining lifetime
    /// included.
    pub fn client_headers(&self, now: u64) -> HeaderMap {
        let mut headers = self.headers.clone();
        // Whole seconds, as `Age` counts them, so that `Age + max-age` is the lifetime.
        let age = self.age(now);
        let remaining = self.ttl.as_secs().saturating_sub(age.as_secs());
        let visibility = match self.scope {
            Scope::Public => "public",
            Scope::User => "private",
        };
        if let Ok(value) = HeaderValue::from_str(&format!("{visibility}, max-age={remaining}")) {
            headers.insert(header::CACHE_CONTROL, value);
        }
        headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_survives_the_round_trip_without_per_exchange_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("x-request-id", HeaderValue::from_static("r1"));
        let entry = Entry {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(b"{\"a\":1}"),
            stored_at: 1_000,
            ttl: Duration::from_secs(300),
            scope: Scope::User,
        };
        let decoded = Entry::decode(entry.encode()).expect("decodes");
        assert_eq!(decoded.body, entry.body);
        assert_eq!(decoded.scope, Scope::User);
        assert_eq!(decoded.headers.len(), 1, "x-request-id is not kept");
        assert!(Entry::decode(Bytes::from_static(b"junk")).is_none());
    }

    #[test]
    fn age_and_remaining_lifetime_are_told_to_the_client() {
        let entry = Entry {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            stored_at: 0,
            ttl: Duration::from_secs(300),
            scope: Scope::Public,
        };
        let headers = entry.client_headers(100_000);
        assert_eq!(headers[header::AGE], "100");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=200");
        assert!(entry.is_fresh(299_999) && !entry.is_fresh(300_000));
    }
}
