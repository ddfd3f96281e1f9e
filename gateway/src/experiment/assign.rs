//! Sticky assignment, as GrowthBook buckets: a user's variant is a hash of the experiment and
//! the user, so that every request and every gateway instance gives the same answer without
//! remembering anything. Callers without a token are known by a cookie the gateway sets.

use http::{HeaderMap, HeaderValue};
use sha2::{Digest as _, Sha256};

/// The cookie that names an anonymous caller.
pub const COOKIE: &str = "fd_subject";

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

/// The anonymous caller's id from its cookie, if it sent a well-formed one.
pub fn cookie_subject(headers: &HeaderMap) -> Option<String> {
    crate::access::cookie(headers, COOKIE)
        .and_then(|value| uuid::Uuid::parse_str(value).ok())
        .map(|id| id.to_string())
}

/// A new anonymous id, and the `Set-Cookie` that keeps it.
pub fn new_cookie() -> (String, HeaderValue) {
    let id = uuid::Uuid::new_v4().to_string();
    let cookie = format!("{COOKIE}={id}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax");
    let value = HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("fd_subject=; Path=/"));
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

    #[test]
    fn only_a_well_formed_cookie_names_a_subject() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; fd_subject=0192f1d2-6c1e-7cc4-9a3e-6f6b2b1c9d01"),
        );
        assert_eq!(
            cookie_subject(&headers).as_deref(),
            Some("0192f1d2-6c1e-7cc4-9a3e-6f6b2b1c9d01")
        );
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("fd_subject=<script>"),
        );
        assert_eq!(cookie_subject(&headers), None);
        let (id, cookie) = new_cookie();
        assert!(
            cookie
                .to_str()
                .is_ok_and(|text| text.starts_with(&format!("fd_subject={id};")))
        );
    }
}
