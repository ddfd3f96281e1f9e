//! How the gateway writes its cookies (the experiments' anonymous id, the dashboard's
//! session): with `COOKIE_SECURE` (the default) each is `Secure` and named with the
//! `__Host-` prefix, which a browser keeps only from a secure origin, for the whole host
//! (`Path=/`) and without a `Domain`, so that neither a plain-HTTP page nor a sibling
//! subdomain can set or overwrite it.

use http::{HeaderMap, HeaderValue, header};

/// The prefix of a cookie bound to its host and to HTTPS.
pub const HOST_PREFIX: &str = "__Host-";

/// The cookie that names an anonymous caller of an experiment's route.
pub const SUBJECT: &str = "fd_subject";
/// The cookie holding an admin's access token for the dashboard.
pub const DASHBOARD: &str = "fd_dashboard";

/// Takes the gateway's own cookies, prefixed or not, out of a request's `Cookie` headers,
/// and drops a header left empty. They are the gateway's alone: with `__Host-` they go with
/// every request to the host, and the dashboard's carries an admin's token, which no
/// backend is to see.
pub fn strip_own(headers: &mut HeaderMap) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let own = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name).trim();
        let name = name.strip_prefix(HOST_PREFIX).unwrap_or(name);
        name == SUBJECT || name == DASHBOARD
    };
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .map(str::trim)
                .filter(|pair| !pair.is_empty() && !own(pair))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|value| !value.is_empty())
        .collect();
    headers.remove(header::COOKIE);
    for value in kept {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::COOKIE, value);
        }
    }
}

/// The name `name` goes by: prefixed when `secure`.
pub fn name(name: &str, secure: bool) -> String {
    if secure {
        format!("{HOST_PREFIX}{name}")
    } else {
        name.to_owned()
    }
}

/// A `Set-Cookie` value for `name=value` with `attributes` (`Max-Age=…; HttpOnly`): when
/// `secure`, prefixed, `Secure`, and on `Path=/` whatever `path` says; else on `path`.
pub fn set_cookie(name_: &str, value: &str, path: &str, attributes: &str, secure: bool) -> String {
    if secure {
        format!("{HOST_PREFIX}{name_}={value}; Path=/; {attributes}; Secure")
    } else {
        format!("{name_}={value}; Path={path}; {attributes}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secure_cookie_meets_the_host_prefix_rules() {
        let cookie = set_cookie("fd", "1", "/dashboard", "HttpOnly; SameSite=Strict", true);
        assert_eq!(
            cookie,
            "__Host-fd=1; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(name("fd", true), "__Host-fd");
    }

    #[test]
    fn the_gateway_s_own_cookies_never_reach_a_backend_and_the_others_do() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-fd_dashboard=token; b=2"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("fd_subject=x"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-fd_subject=y; c=3"),
        );
        strip_own(&mut headers);
        let left: Vec<_> = headers.get_all(header::COOKIE).iter().collect();
        assert_eq!(left, ["a=1; b=2", "c=3"]);

        let mut only_ours = HeaderMap::new();
        only_ours.insert(header::COOKIE, HeaderValue::from_static("fd_dashboard=t"));
        strip_own(&mut only_ours);
        assert!(!only_ours.contains_key(header::COOKIE));
    }

    #[test]
    fn an_insecure_cookie_keeps_its_name_and_path() {
        let cookie = set_cookie("fd", "1", "/dashboard", "HttpOnly", false);
        assert_eq!(cookie, "fd=1; Path=/dashboard; HttpOnly");
        assert_eq!(name("fd", false), "fd");
    }
}
