//! How the gateway writes its cookies (the experiments' anonymous id, the dashboard's
//! session): with `COOKIE_SECURE` (the default) each is `Secure` and named with the
//! `__Host-` prefix, which a browser keeps only from a secure origin, for the whole host
//! (`Path=/`) and without a `Domain`, so that neither a plain-HTTP page nor a sibling
//! subdomain can set or overwrite it.

/// The prefix of a cookie bound to its host and to HTTPS.
pub const HOST_PREFIX: &str = "__Host-";

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
    fn an_insecure_cookie_keeps_its_name_and_path() {
        let cookie = set_cookie("fd", "1", "/dashboard", "HttpOnly", false);
        assert_eq!(cookie, "fd=1; Path=/dashboard; HttpOnly");
        assert_eq!(name("fd", false), "fd");
    }
}
