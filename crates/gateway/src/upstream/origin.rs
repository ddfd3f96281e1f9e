//! Where a backend's requests go, parsed once at start-up: a call then only joins its path to
//! the backend's, instead of formatting and parsing a whole URL each time.

use http::{
    HeaderValue, Uri,
    uri::{Authority, PathAndQuery, Scheme},
};

/// A backend's scheme, authority and base path, and the `Host` its requests carry.
#[derive(Debug, Clone)]
pub struct Origin {
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path without its trailing `/` (empty for most backends).
    base_path: String,
    host: HeaderValue,
}

impl Origin {
    /// The origin of `base_url`, an absolute `http://` URL (as the configuration checks).
    pub fn parse(base_url: &str) -> Option<Self> {
        let uri: Uri = base_url.parse().ok()?;
        let scheme = uri.scheme()?.clone();
        let authority = uri.authority()?.clone();
        let host = HeaderValue::from_str(authority.as_str()).ok()?;
        Some(Self {
            scheme,
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            host,
        })
    }

    /// The URL of `target` (a path and query) at this origin.
    pub fn uri(&self, target: String) -> Option<Uri> {
        let target = if self.base_path.is_empty() {
            target
        } else {
            format!("{}{target}", self.base_path)
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::try_from(target).ok()?);
        Uri::from_parts(parts).ok()
    }

    /// The `Host` header of requests to this origin.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_joined_to_the_base_path() {
        let bare = Origin::parse("http://orders:3002").expect("an origin");
        let uri = bare.uri("/orders/7?page=2".into()).expect("a URI");
        assert_eq!(uri.to_string(), "http://orders:3002/orders/7?page=2");
        assert_eq!(bare.host(), "orders:3002");

        let based = Origin::parse("http://10.0.0.5:8080/v1/").expect("an origin");
        let uri = based.uri("/orders".into()).expect("a URI");
        assert_eq!(uri.to_string(), "http://10.0.0.5:8080/v1/orders");
    }

    #[test]
    fn a_target_that_is_not_a_path_is_refused() {
        let origin = Origin::parse("http://orders:3002").expect("an origin");
        assert!(origin.uri("/orders/\u{7f}".into()).is_none());
    }
}
