//! The cache's reading of RFC 9111 and RFC 9213, field by field.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};

use crate::{
    control::{CDN_CACHE_CONTROL, Directives, Seconds},
    policy::{Exchange, freshness},
    rules::Scope,
};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
            HeaderValue::from_str(value).expect("a value"),
        );
    }
    headers
}

fn cache_control(value: &str) -> Directives {
    Directives::of(&headers(&[("cache-control", value)]))
}

const NOW: u64 = 1_800_000_000;

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

fn date(seconds: u64) -> String {
    httpdate::fmt_http_date(at(seconds))
}

/// The freshness of a 200 answering a GET sent at `NOW - delay`, received at `NOW`.
fn judged(response: &[(&str, &str)], delay: u64, authorized: bool) -> Option<super::Freshness> {
    let response = headers(response);
    freshness(&Exchange {
        status: StatusCode::OK,
        response: &response,
        authorized,
        user: authorized,
        requested_at: at(NOW - delay),
        received_at: at(NOW),
        forced: None,
    })
}

#[test]
fn directives_are_read_case_blind_with_quoted_commas_kept_inside_their_argument() {
    let directives =
        cache_control("Public, MAX-AGE=60, private=\"set-cookie, x-a\", s-maxage=\"30\"");
    assert!(directives.public && directives.private);
    assert_eq!(directives.max_age, Seconds::Valid(60));
    assert_eq!(
        directives.s_maxage,
        Seconds::Valid(30),
        "the quoted form is read"
    );
    assert!(!directives.no_cache, "x-a is not a directive");
}

#[test]
fn an_argument_that_is_not_delta_seconds_is_invalid_and_a_huge_one_is_capped() {
    for value in [
        "max-age='60'",
        "max-age=-1",
        "max-age=1.5",
        "max-age",
        "max-age=60, max-age=61",
    ] {
        assert_eq!(cache_control(value).max_age, Seconds::Invalid, "{value}");
    }
    assert_eq!(
        cache_control("max-age=60, max-age=60").max_age,
        Seconds::Valid(60)
    );
    assert_eq!(
        cache_control("max-age=99999999999999999999").max_age,
        Seconds::Valid(1 << 31)
    );
}

#[test]
fn a_valid_cdn_cache_control_replaces_cache_control_and_an_invalid_one_is_ignored() {
    let both = headers(&[
        ("cache-control", "no-store"),
        ("cdn-cache-control", "max-age=60"),
    ]);
    let (directives, targeted) = Directives::of_response(&both);
    assert!(targeted && !directives.no_store);
    assert_eq!(directives.max_age, Seconds::Valid(60));
    let mut broken = both.clone();
    broken.insert(CDN_CACHE_CONTROL, HeaderValue::from_static("max-age=60,,"));
    let (directives, targeted) = Directives::of_response(&broken);
    assert!(!targeted && directives.no_store);
}

#[test]
fn s_maxage_wins_over_max_age_which_wins_over_expires() {
    let expires = date(NOW + 500);
    let lifetime = |response: &[(&str, &str)]| judged(response, 0, false).map(|f| f.lifetime);
    assert_eq!(
        lifetime(&[
            ("cache-control", "max-age=60, s-maxage=30"),
            ("expires", &expires)
        ]),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        lifetime(&[("cache-control", "max-age=60"), ("expires", &expires)]),
        Some(Duration::from_secs(60))
    );
    let now = date(NOW);
    assert_eq!(
        lifetime(&[("date", &now), ("expires", &expires)]),
        Some(Duration::from_secs(500))
    );
    assert_eq!(
        lifetime(&[("date", &now), ("expires", "0")]),
        None,
        "already expired"
    );
    assert_eq!(lifetime(&[]), None, "no lifetime is invented");
}

#[test]
fn the_heuristic_lifetime_is_a_tenth_of_the_time_since_last_modified() {
    let response = [("date", date(NOW)), ("last-modified", date(NOW - 1_000))];
    let response: Vec<(&str, &str)> = response.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        judged(&response, 0, false).map(|f| f.lifetime),
        Some(Duration::from_secs(100))
    );
}

#[test]
fn the_initial_age_is_the_larger_of_the_apparent_age_and_age_plus_the_delay() {
    let by_date = judged(
        &[("cache-control", "max-age=600"), ("date", &date(NOW - 40))],
        2,
        false,
    );
    assert_eq!(
        by_date.map(|f| f.initial_age),
        Some(Duration::from_secs(40))
    );
    let by_age = judged(
        &[
            ("cache-control", "max-age=600"),
            ("date", &date(NOW)),
            ("age", "30"),
        ],
        2,
        false,
    );
    assert_eq!(by_age.map(|f| f.initial_age), Some(Duration::from_secs(32)));
}

#[test]
fn credentials_keep_an_answer_to_its_user_unless_the_origin_marks_it_shared() {
    let scope =
        |cache_control: &str| judged(&[("cache-control", cache_control)], 0, true).map(|f| f.scope);
    assert_eq!(scope("max-age=60"), Some(Scope::User));
    for shared in [
        "public, max-age=60",
        "s-maxage=60",
        "max-age=60, must-revalidate",
    ] {
        assert_eq!(scope(shared), Some(Scope::Public), "{shared}");
    }
    assert_eq!(
        judged(&[("cache-control", "private, max-age=60")], 0, false),
        None,
        "private, for nobody the gateway knows"
    );
}

#[test]
fn what_forbids_stale_answers_is_kept_with_the_entry() {
    let revalidate_only = |cache_control: &str| {
        judged(&[("cache-control", cache_control)], 0, false).map(|f| f.revalidate_only)
    };
    assert_eq!(revalidate_only("max-age=60"), Some(false));
    for strict in [
        "max-age=60, must-revalidate",
        "max-age=60, proxy-revalidate",
        "s-maxage=60",
    ] {
        assert_eq!(revalidate_only(strict), Some(true), "{strict}");
    }
    let stale = judged(
        &[(
            "cache-control",
            "max-age=0, stale-if-error=60, stale-while-revalidate=5",
        )],
        0,
        false,
    )
    .expect("kept for its stale-if-error");
    assert_eq!(stale.stale_if_error, Some(Duration::from_secs(60)));
    assert_eq!(stale.stale_while_revalidate, Some(Duration::from_secs(5)));
}
