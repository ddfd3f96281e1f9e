//! Where a backend's requests go, parsed once at start-up: a call then only joins its path to
//! the backend's, instead of formatting and parsing a whole URL each time.

use http::{
    HeaderValue, Uri,
    uri::{Authority, PathAndQuery, Scheme},
};

/// A backend's address, base path, and the `Host` its requests carry.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `host:port`, the port defaulted to 80.
    address: String,
    /// The base URL's path without its trailing `/` (empty for most backends).
    base_path: String,
    host: HeaderValue,
    /// The base URL's authority, for requests in absolute form (HTTP/2's).
    authority: Authority,
}

impl Origin {
    /// The origin of `base_url`, an absolute `http://` URL (as the configuration checks).
    pub fn parse(base_url: &str) -> Option<Self> {
        let uri: Uri = base_url.parse().ok()?;
        let address = gateway_net::client::dial_address(&uri)?;
        let authority = uri.authority()?.clone();
        let host = HeaderValue::from_str(authority.as_str()).ok()?;
        Some(Self {
            address,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            host,
            authority,
        })
    }

    /// The request target (origin form) of `target` at this origin.
    pub fn target(&self, target: &PathAndQuery) -> Option<Uri> {
        if self.base_path.is_empty() {
            // Most backends: the target as received, without parsing it again.
            return Some(Uri::from(target.clone()));
        }
        let joined = format!("{}{target}", self.base_path);
        Some(Uri::from(PathAndQuery::try_from(joined).ok()?))
    }

    /// `target` at this origin in absolute form (`http://host:port/base/target`), as an
    /// HTTP/2 request carries it in its pseudo-headers.
    pub fn absolute(&self, target: &PathAndQuery) -> Option<Uri> {
        let mut parts = self.target(target)?.into_parts();
        parts.scheme = Some(Scheme::HTTP);
        parts.authority = Some(self.authority.clone());
        Uri::from_parts(parts).ok()
    }

    /// Where to connect: `host:port`.
    pub fn address(&self) -> &str {
        &self.address
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
        let uri = bare
            .target(&PathAndQuery::from_static("/orders/7?page=2"))
            .expect("a target");
        assert_eq!(uri.to_string(), "/orders/7?page=2");
        assert_eq!(bare.address(), "orders:3002");
        assert_eq!(bare.host(), "orders:3002");

        let based = Origin::parse("http://10.0.0.5/v1/").expect("an origin");
        let uri = based
            .target(&PathAndQuery::from_static("/orders"))
            .expect("a target");
        assert_eq!(uri.to_string(), "/v1/orders");
        assert_eq!(based.address(), "10.0.0.5:80", "the default port");
        let absolute = based
            .absolute(&PathAndQuery::from_static("/pkg.Svc/Call"))
            .expect("an absolute target");
        assert_eq!(absolute.to_string(), "http://10.0.0.5/v1/pkg.Svc/Call");
    }

    #[test]
    fn an_origin_that_is_not_plain_http_is_refused() {
        assert!(Origin::parse("https://orders:3002").is_none());
        assert!(Origin::parse("/orders").is_none());
    }
}
