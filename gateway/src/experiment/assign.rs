//! Sticky assignment, as GrowthBook buckets: a user's variant is a hash of the experiment and
//! the user, so that every request and every gateway instance gives the same answer without
//! remembering anything. Callers without a token are known by a cookie the gateway sets.

use http::{HeaderMap, HeaderValue};
use sha2::{Digest as _, Sha256};

/// The cookie that names an anonymous caller, without its `__Host-` prefix; cookies set
/// before the prefix are still read, so that their holders keep their variant.
pub const COOKIE: &str = crate::cookies::SUBJECT;

/// How long the cookie lasts: a year.
const COOKIE_MAX_AGE: u32 = 365 * 24 * 3600;

/// Where `subject` falls in `experiment`, from 0 up to (not including) 100.
pub fn bucket(experiment: &str, subject: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(experiment.as_bytes())
        .chain_update(b":")
        .chain_update(subject.as_bytes())
        .finalize();
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    // The top 53 bits, so that the fraction is exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    let fraction = (u64::from_be_bytes(first) >> 11) as f64 / (1_u64 << 53) as f64;
    fraction * 100.0
}

/// The variant (0: control, 1: treatment) of `subject` when `split` percent go to the second.
pub fn variant(experiment: &str, subject: &str, split: f64) -> usize {
    usize::from(bucket(experiment, subject) < split)
}

/// Where an anonymous caller's id was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// In the cookie as the gateway sets it now.
    Current,
    /// In the cookie's other name (set before `COOKIE_SECURE`, or with it changed).
    Other,
}

/// The anonymous caller's id from its cookie, if it sent a well-formed one, and which name
/// it came under when `secure` says how the gateway names it now.
pub fn cookie_subject(headers: &HeaderMap, secure: bool) -> Option<(String, Found)> {
    let prefixed = format!("{}{COOKIE}", crate::cookies::HOST_PREFIX);
    let current = if secure { prefixed.as_str() } else { COOKIE };
    let other = if secure { COOKIE } else { prefixed.as_str() };
    let parse = |name: &str| {
        crate::access::cookie(headers, name)
            .and_then(|value| uuid::Uuid::parse_str(value).ok())
            .map(|id| id.to_string())
    };
    parse(current)
        .map(|id| (id, Found::Current))
        .or_else(|| parse(other).map(|id| (id, Found::Other)))
}

/// The `Set-Cookie` that keeps anonymous id `id`.
pub fn cookie_for(id: &str, secure: bool) -> Option<HeaderValue> {
    let cookie = crate::cookies::set_cookie(
        COOKIE,
        id,
        "/",
        &format!("Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"),
        secure,
    );
    HeaderValue::from_str(&cookie).ok()
}

/// A new anonymous id, and the `Set-Cookie` that keeps it.
pub fn new_cookie(secure: bool) -> (String, Option<HeaderValue>) {
    let id = uuid::Uuid::new_v4().to_string();
    let value = cookie_for(&id, secure);
    (id, value)
}

#[cfg(test)]
mod tests {
    use http::header;

    use super::*;

    #[test]
    fn a_subject_always_falls_in_the_same_bucket_and_experiments_differ() {
        let first = bucket("exp-1", "user-7");
        assert!((0.0..100.0).contains(&first));
        assert!((bucket("exp-1", "user-7") - first).abs() < f64::EPSILON);
        assert!((bucket("exp-2", "user-7") - first).abs() > f64::EPSILON);
    }

    #[test]
    fn a_split_sends_its_share_of_subjects_to_the_second_variant() {
        let treated = (0..10_000)
            .filter(|n| variant("exp", &format!("user-{n}"), 30.0) == 1)
            .count();
        assert!((2800..3200).contains(&treated), "{treated}");
        assert_eq!(variant("exp", "anyone", 0.0), 0);
        assert_eq!(variant("exp", "anyone", 100.0), 1);
    }

    const ID: &str = "0192f1d2-6c1e-7cc4-9a3e-6f6b2b1c9d01";

    fn sent(cookie: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static(cookie));
        headers
    }

    #[test]
    fn only_a_well_formed_cookie_names_a_subject() {
        let headers = sent("a=1; __Host-fd_subject=0192f1d2-6c1e-7cc4-9a3e-6f6b2b1c9d01");
        assert_eq!(
            cookie_subject(&headers, true),
            Some((ID.to_owned(), Found::Current))
        );
        assert_eq!(
            cookie_subject(&sent("__Host-fd_subject=<script>"), true),
            None
        );
        assert_eq!(cookie_subject(&sent("fd_subject=<script>"), false), None);
    }

    #[test]
    fn the_unprefixed_name_is_still_read_so_that_its_holder_keeps_the_variant() {
        let headers = sent("fd_subject=0192f1d2-6c1e-7cc4-9a3e-6f6b2b1c9d01");
        assert_eq!(
            cookie_subject(&headers, true),
            Some((ID.to_owned(), Found::Other))
        );
        assert_eq!(
            cookie_subject(&headers, false),
            Some((ID.to_owned(), Found::Current))
        );
    }

    #[test]
    fn a_secure_cookie_is_host_prefixed_and_an_insecure_one_is_not() {
        let (id, cookie) = new_cookie(true);
        let text = cookie.expect("a cookie");
        let text = text.to_str().expect("text");
        assert!(
            text.starts_with(&format!("__Host-fd_subject={id}; Path=/;")),
            "{text}"
        );
        assert!(
            text.contains("; Secure") && text.contains("HttpOnly"),
            "{text}"
        );
        assert!(!text.contains("Domain"), "{text}");
        let (id, cookie) = new_cookie(false);
        let text = cookie.expect("a cookie");
        let text = text.to_str().expect("text");
        assert!(
            text.starts_with(&format!("fd_subject={id}; Path=/;")),
            "{text}"
        );
        assert!(!text.contains("Secure"), "{text}");
    }
}
