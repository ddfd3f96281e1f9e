//! What `Cache-Control` (RFC 9111 §5.2) allows a shared cache to do with a response.

use std::time::Duration;

use http::{HeaderMap, StatusCode, header};

/// The directives a shared cache acts on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Directives {
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub public: bool,
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
}

impl Directives {
    /// The directives of every `Cache-Control` header in `headers`.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut directives = Self::default();
        let values = headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for directive in values {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name, Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            let seconds = || argument.and_then(|a| a.parse::<u64>().ok());
            match name.trim().to_ascii_lowercase().as_str() {
                "no-store" => directives.no_store = true,
                "no-cache" => directives.no_cache = true,
                "private" => directives.private = true,
                "public" => directives.public = true,
                "max-age" => directives.max_age = seconds(),
                "s-maxage" => directives.s_maxage = seconds(),
                _ => {}
            }
        }
        directives
    }
}

/// Where a response may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One copy for everyone.
    Public,
    /// One copy per user.
    User,
}

/// Statuses cached without explicit freshness (RFC 9111 §4.2.2, less 404 and 405, whose
/// answers change as soon as the resource is created).
fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 203 | 204 | 300 | 301 | 308 | 410)
}

/// Whether and for how long a response may be stored, and for whom; `None` when it may not.
/// `route_ttl` applies when the response carries no lifetime; `authenticated` says whether
/// the request carried a user.
pub fn storable(
    status: StatusCode,
    headers: &HeaderMap,
    route_ttl: Duration,
    authenticated: bool,
) -> Option<(Duration, Scope)> {
    let directives = Directives::of(headers);
    if directives.no_store || directives.no_cache || headers.contains_key(header::SET_COOKIE) {
        return None;
    }
    let varies = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| !name.trim().eq_ignore_ascii_case("accept-encoding"));
    if varies {
        return None;
    }
    let explicit = directives.s_maxage.or(directives.max_age);
    if explicit.is_none() && !heuristically_cacheable(status) {
        return None;
    }
    let ttl = explicit.map_or(route_ttl, Duration::from_secs);
    if ttl.is_zero() {
        return None;
    }
    let scope = if directives.public || directives.s_maxage.is_some() {
        Scope::Public
    } else if authenticated {
        Scope::User
    } else if directives.private {
        return None;
    } else {
        Scope::Public
    };
    Some((ttl, scope))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const ROUTE: Duration = Duration::from_secs(300);

    fn with(cache_control: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(cache_control).expect("a value"),
        );
        headers
    }

    #[test]
    fn the_upstream_lifetime_wins_over_the_route_and_s_maxage_over_max_age() {
        let ok = StatusCode::OK;
        assert_eq!(
            storable(ok, &HeaderMap::new(), ROUTE, false),
            Some((ROUTE, Scope::Public))
        );
        assert_eq!(
            storable(ok, &with("public, max-age=60"), ROUTE, true),
            Some((Duration::from_secs(60), Scope::Public))
        );
        assert_eq!(
            storable(ok, &with("max-age=60, s-maxage=10"), ROUTE, true),
            Some((Duration::from_secs(10), Scope::Public))
        );
    }

    #[test]
    fn private_responses_are_kept_per_user_and_never_for_anonymous_callers() {
        let ok = StatusCode::OK;
        assert_eq!(
            storable(ok, &with("private, max-age=30"), ROUTE, true),
            Some((Duration::from_secs(30), Scope::User))
        );
        assert_eq!(storable(ok, &with("private"), ROUTE, false), None);
        assert_eq!(
            storable(ok, &HeaderMap::new(), ROUTE, true),
            Some((ROUTE, Scope::User)),
            "without a word from upstream, a user's answer stays theirs"
        );
    }

    #[test]
    fn no_store_no_cache_cookies_vary_and_uncacheable_statuses_are_not_kept() {
        let ok = StatusCode::OK;
        for header in ["no-store", "no-cache", "max-age=0", "public, NO-STORE"] {
            assert_eq!(storable(ok, &with(header), ROUTE, false), None, "{header}");
        }
        let mut cookie = HeaderMap::new();
        cookie.insert(header::SET_COOKIE, HeaderValue::from_static("a=b"));
        assert_eq!(storable(ok, &cookie, ROUTE, false), None);
        let mut vary = HeaderMap::new();
        vary.insert(
            header::VARY,
            HeaderValue::from_static("Accept-Encoding, Origin"),
        );
        assert_eq!(storable(ok, &vary, ROUTE, false), None);
        for status in [
            StatusCode::NOT_FOUND,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::CREATED,
        ] {
            assert_eq!(
                storable(status, &HeaderMap::new(), ROUTE, false),
                None,
                "{status}"
            );
        }
        assert!(storable(StatusCode::NOT_FOUND, &with("max-age=5"), ROUTE, false).is_some());
    }
}
