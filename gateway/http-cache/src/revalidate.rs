//! Validation of a stored response with the origin (RFC 9111 §4.3): its validators sent as
//! conditions, and a 304's fields folded into the stored ones.

use http::{HeaderMap, HeaderName, header};

use crate::entry::Entry;

/// Fields a 304 may not change: they describe the stored body, which is kept (§3.2).
const BODY_FIELDS: [HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::TRANSFER_ENCODING,
    header::CONTENT_RANGE,
];

/// Whether the entry can be validated: it has an `ETag` or a `Last-Modified`.
pub fn has_validators(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED)
}

/// The conditions that ask the origin whether `entry` is still current (§4.3.1):
/// `If-None-Match` with its entity tag, `If-Modified-Since` with its `Last-Modified`.
pub fn conditions(entry: &Entry) -> HeaderMap {
    let mut conditions = HeaderMap::new();
    if let Some(etag) = entry.headers.get(header::ETAG) {
        conditions.insert(header::IF_NONE_MATCH, etag.clone());
    }
    if let Some(modified) = entry.headers.get(header::LAST_MODIFIED) {
        conditions.insert(header::IF_MODIFIED_SINCE, modified.clone());
    }
    conditions
}

/// Whether a 304 answers for `entry` (§4.3.4): its strong entity tag if it sends one, else
/// its `Last-Modified`, else the entry's being the one stored.
pub fn validates(entry: &Entry, not_modified: &HeaderMap) -> bool {
    match not_modified.get(header::ETAG) {
        Some(etag) => entry.headers.get(header::ETAG) == Some(etag),
        None => match not_modified.get(header::LAST_MODIFIED) {
            Some(modified) => entry.headers.get(header::LAST_MODIFIED) == Some(modified),
            None => true,
        },
    }
}

/// The stored fields with a 304's in their place (§3.2): each field the 304 sends replaces
/// the stored one, those describing the body excepted.
pub fn freshened(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let mut headers = stored.clone();
    for name in not_modified.keys() {
        if BODY_FIELDS.contains(name) {
            continue;
        }
        headers.remove(name);
        for value in not_modified.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn a_304_updates_every_field_but_those_of_the_body() {
        let mut stored = HeaderMap::new();
        stored.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=1"));
        stored.insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        stored.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        let mut not_modified = HeaderMap::new();
        not_modified.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        not_modified.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        not_modified.insert("x-served-by", HeaderValue::from_static("origin-2"));
        let merged = freshened(&stored, &not_modified);
        assert_eq!(merged[header::CACHE_CONTROL], "max-age=60");
        assert_eq!(merged[header::CONTENT_LENGTH], "12");
        assert_eq!(merged["x-served-by"], "origin-2");
        assert_eq!(merged[header::ETAG], "\"v1\"");
    }
}
