//! What a write makes stale (RFC 9111 §4.4): the target of any unsafe method answered 2xx or
//! 3xx, and the same-origin URIs its `Location` and `Content-Location` name.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// Whether a response to `method` invalidates: a non-error status to a method that is not
/// safe (RFC 9110 §9.2.1), unknown ones included.
pub fn invalidates(method: &Method, status: StatusCode) -> bool {
    !method.is_safe() && (status.is_success() || status.is_redirection())
}

/// The paths `Location` and `Content-Location` name on this origin (`host`, the request's
/// `Host`): relative references, or absolute ones with that host. Others are left alone, so
/// that nobody invalidates another origin's entries.
pub fn named_paths(response: &HeaderMap, host: Option<&HeaderValue>) -> Vec<String> {
    let host = host.and_then(|value| value.to_str().ok());
    [header::LOCATION, header::CONTENT_LOCATION]
        .iter()
        .filter_map(|name| response.get(name)?.to_str().ok())
        .filter_map(|reference| {
            let uri: http::Uri = reference.trim().parse().ok()?;
            let same_origin = match uri.authority() {
                None => reference.trim().starts_with('/'),
                Some(authority) => {
                    host.is_some_and(|host| host.eq_ignore_ascii_case(authority.as_str()))
                }
            };
            same_origin.then(|| uri.path().to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_unsafe_and_errors_invalidate_nothing() {
        let purge = Method::from_bytes(b"PURGE").expect("a method");
        assert!(invalidates(&purge, StatusCode::OK));
        assert!(invalidates(&Method::POST, StatusCode::SEE_OTHER));
        assert!(!invalidates(&Method::POST, StatusCode::BAD_REQUEST));
        assert!(!invalidates(&Method::GET, StatusCode::OK));
    }

    #[test]
    fn only_this_origins_locations_are_invalidated() {
        let mut response = HeaderMap::new();
        response.insert(
            header::LOCATION,
            HeaderValue::from_static("/restaurants/r9"),
        );
        response.insert(
            header::CONTENT_LOCATION,
            HeaderValue::from_static("http://elsewhere.test/restaurants/r1"),
        );
        let host = HeaderValue::from_static("gateway.test");
        assert_eq!(named_paths(&response, Some(&host)), ["/restaurants/r9"]);
        response.insert(
            header::CONTENT_LOCATION,
            HeaderValue::from_static("http://gateway.test/restaurants/r1?x=1"),
        );
        assert_eq!(
            named_paths(&response, Some(&host)),
            ["/restaurants/r9", "/restaurants/r1"]
        );
    }
}
