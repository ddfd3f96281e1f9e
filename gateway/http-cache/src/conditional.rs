//! A client's conditional and range requests, answered by the cache from a complete response
//! (RFC 9111 §4.3.2; RFC 9110 §13, §14): the backend is asked without them, so that one
//! complete answer serves every request of a flight, and each client gets the 304, 412, 206 or
//! 416 its own headers call for.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::policy::{header_date, http_date};

/// What a client sends to make its request conditional or partial.
pub const CLIENT_CONDITIONS: [HeaderName; 6] = [
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    header::RANGE,
];

/// The fields a 304 carries from the response it stands for (RFC 9110 §15.4.5).
const NOT_MODIFIED_FIELDS: [HeaderName; 7] = [
    header::CACHE_CONTROL,
    header::CONTENT_LOCATION,
    header::DATE,
    header::ETAG,
    header::EXPIRES,
    header::VARY,
    header::AGE,
];

/// A response as the client gets it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Answers `request`'s preconditions and range against a complete `status` response with
/// `headers` and `body`, in RFC 9110 §13.2.2's order. Other statuses pass as they are.
pub fn answer(request: &HeaderMap, status: StatusCode, headers: HeaderMap, body: Bytes) -> Answer {
    let full = Answer {
        status,
        headers,
        body,
    };
    if status != StatusCode::OK {
        return full;
    }
    let etag = full.headers.get(header::ETAG).and_then(|v| v.to_str().ok());
    let modified = header_date(full.headers.get(header::LAST_MODIFIED));
    if let Some(wanted) = request.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        if !matches_any(wanted, etag, true) {
            return bare(StatusCode::PRECONDITION_FAILED, &full.headers);
        }
    } else if let (Some(limit), Some(modified)) = (
        header_date(request.get(header::IF_UNMODIFIED_SINCE)),
        modified,
    ) && modified > limit
    {
        return bare(StatusCode::PRECONDITION_FAILED, &full.headers);
    }
    if let Some(wanted) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if matches_any(wanted, etag, false) {
            return not_modified(&full.headers);
        }
    } else if let (Some(since), Some(modified)) = (
        header_date(request.get(header::IF_MODIFIED_SINCE)),
        modified,
    ) && modified <= since
    {
        return not_modified(&full.headers);
    }
    match request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(range) if range_applies(request, etag, modified) => partial(range, full),
        _ => full,
    }
}

fn not_modified(headers: &HeaderMap) -> Answer {
    let mut kept = HeaderMap::new();
    for name in NOT_MODIFIED_FIELDS {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    if !kept.contains_key(header::ETAG)
        && let Some(modified) = headers.get(header::LAST_MODIFIED)
    {
        kept.insert(header::LAST_MODIFIED, modified.clone());
    }
    Answer {
        status: StatusCode::NOT_MODIFIED,
        headers: kept,
        body: Bytes::new(),
    }
}

fn bare(status: StatusCode, headers: &HeaderMap) -> Answer {
    let mut kept = HeaderMap::new();
    if let Some(date) = headers.get(header::DATE) {
        kept.insert(header::DATE, date.clone());
    }
    Answer {
        status,
        headers: kept,
        body: Bytes::new(),
    }
}

/// Whether `If-Range`, if sent, still names this representation: a strong entity tag equal
/// to its own, or exactly its `Last-Modified` (§13.1.5).
fn range_applies(
    request: &HeaderMap,
    etag: Option<&str>,
    modified: Option<std::time::SystemTime>,
) -> bool {
    let Some(condition) = request.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let condition = condition.trim();
    if condition.starts_with('"') || condition.starts_with("W/") {
        return matches_any(condition, etag, true);
    }
    modified.is_some_and(|modified| http_date(Some(condition)) == Some(modified))
}

/// One range of bytes as 206, an unsatisfiable one as 416; several ranges, another unit or
/// an invalid field are ignored and the whole answer sent (§14.2 allows it).
fn partial(range: &str, full: Answer) -> Answer {
    let length = full.body.len() as u64;
    let range = range.trim();
    // The unit is case-blind (RFC 9110 §14.1).
    let Some(spec) = range
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| &range[6..])
    else {
        return full;
    };
    if spec.contains(',') {
        return full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return full;
    };
    let number = |text: &str| {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
    };
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => return unsatisfiable(length, &full.headers),
            Some(suffix) => (length.saturating_sub(suffix), length.saturating_sub(1)),
            None => return full,
        },
        (first, "") => match number(first) {
            Some(first) => (first, length.saturating_sub(1)),
            None => return full,
        },
        (first, last) => match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => {
                (first, last.min(length.saturating_sub(1)))
            }
            _ => return full,
        },
    };
    if length == 0 || start >= length {
        return unsatisfiable(length, &full.headers);
    }
    let mut headers = full.headers;
    let slice = full.body.slice(
        usize::try_from(start).unwrap_or(usize::MAX)..=usize::try_from(end).unwrap_or(usize::MAX),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(slice.len()));
    Answer {
        status: StatusCode::PARTIAL_CONTENT,
        headers,
        body: slice,
    }
}

fn unsatisfiable(length: u64, headers: &HeaderMap) -> Answer {
    let mut answer = bare(StatusCode::RANGE_NOT_SATISFIABLE, headers);
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
        answer.headers.insert(header::CONTENT_RANGE, value);
    }
    answer
}

/// Whether a list of entity tags (or `*`) names `current`: strongly (both strong and equal)
/// or weakly (equal once `W/` is set aside), RFC 9110 §8.8.3.2.
pub fn matches_any(list: &str, current: Option<&str>, strong: bool) -> bool {
    // `*` names whatever is current: this cache answers only for a response it has.
    if list.trim() == "*" {
        return true;
    }
    let Some(current) = current.map(str::trim) else {
        return false;
    };
    let opaque = |tag: &str| {
        tag.trim()
            .strip_prefix("W/")
            .unwrap_or(tag.trim())
            .to_owned()
    };
    let weak = |tag: &str| tag.trim().starts_with("W/");
    list.split(',')
        .any(|tag| opaque(tag) == opaque(current) && (!strong || (!weak(tag) && !weak(current))))
}
