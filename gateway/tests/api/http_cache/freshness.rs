//! What is stored, for how long, and with which headers.

use std::time::{Duration, SystemTime};

use super::{Origin, gateway, get, http_date, outcomes};

#[tokio::test]
async fn the_origins_headers_pass_through_untouched_and_a_hit_adds_only_its_age() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let date = http_date(SystemTime::now());
    let path = "/restaurants/untouched";
    origin.serve(
        path,
        &[
            ("cache-control", "max-age=60, s-maxage=30"),
            ("date", &date),
            ("etag", "\"v1\""),
        ],
    );
    let (miss, _, first) = get(&gateway, path, &[]).await;
    let (hit, body, second) = get(&gateway, path, &[]).await;
    assert_eq!((miss.as_str(), hit.as_str()), ("MISS", "HIT"));
    assert_eq!(body, "200 call 1");
    for headers in [&first, &second] {
        assert_eq!(
            headers["cache-control"], "max-age=60, s-maxage=30",
            "never rewritten"
        );
        assert_eq!(headers["date"], date.as_str(), "the origin's Date");
        assert_eq!(headers["etag"], "\"v1\"");
    }
    assert!(!first.contains_key("age"), "a miss adds no Age");
    let age: u64 = second["age"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(age <= 1, "{age}");
}

#[tokio::test]
async fn expires_gives_the_lifetime_and_a_past_or_malformed_expires_is_already_stale() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let now = SystemTime::now();
    let (date, later) = (http_date(now), http_date(now + Duration::from_secs(60)));
    let past = http_date(now - Duration::from_secs(60));
    origin.serve(
        "/restaurants/later",
        &[("date", &date), ("expires", &later)],
    );
    origin.serve("/restaurants/past", &[("date", &date), ("expires", &past)]);
    origin.serve("/restaurants/zero", &[("date", &date), ("expires", "0")]);
    assert_eq!(
        outcomes(&gateway, "/restaurants/later", 2).await,
        ["MISS", "HIT"]
    );
    for path in ["/restaurants/past", "/restaurants/zero"] {
        assert_eq!(
            outcomes(&gateway, path, 2).await,
            ["MISS", "MISS"],
            "{path}"
        );
        assert_eq!(origin.calls(path), 2);
    }
}

#[tokio::test]
async fn an_age_from_upstream_counts_against_the_lifetime() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    origin.serve(
        "/restaurants/old",
        &[("cache-control", "max-age=60"), ("age", "100")],
    );
    origin.serve(
        "/restaurants/aged",
        &[("cache-control", "max-age=60"), ("age", "30")],
    );
    assert_eq!(
        outcomes(&gateway, "/restaurants/old", 2).await,
        ["MISS", "MISS"]
    );
    let (_, _, first) = get(&gateway, "/restaurants/aged", &[]).await;
    assert_eq!(first["age"], "30", "the origin's Age passes on a miss");
    let (hit, _, second) = get(&gateway, "/restaurants/aged", &[]).await;
    assert_eq!(hit, "HIT");
    let age: u64 = second["age"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((30..=31).contains(&age), "{age}");
}

#[tokio::test]
async fn no_lifetime_is_invented_and_last_modified_gives_a_tenth_of_its_age() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let now = SystemTime::now();
    let modified = http_date(now - Duration::from_secs(10 * 86_400));
    origin.serve("/restaurants/silent", &[]);
    origin.serve(
        "/restaurants/modified",
        &[("date", &http_date(now)), ("last-modified", &modified)],
    );
    assert_eq!(
        outcomes(&gateway, "/restaurants/silent", 2).await,
        ["MISS", "MISS"]
    );
    assert_eq!(
        outcomes(&gateway, "/restaurants/modified", 2).await,
        ["MISS", "HIT"]
    );
}

#[tokio::test]
async fn invalid_arguments_make_a_response_stale_and_the_quoted_form_is_read() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    for (path, cache_control, expected) in [
        ("/restaurants/single", "max-age='60'", ["MISS", "MISS"]),
        ("/restaurants/negative", "max-age=-1", ["MISS", "MISS"]),
        (
            "/restaurants/twice",
            "max-age=60, max-age=30",
            ["MISS", "MISS"],
        ),
        ("/restaurants/quoted", "max-age=\"60\"", ["MISS", "HIT"]),
        // A comma inside quotes ends no directive: `no-store` here is an argument's text.
        (
            "/restaurants/comma",
            "ext=\"a, no-store, b\", max-age=60",
            ["MISS", "HIT"],
        ),
    ] {
        origin.serve(path, &[("cache-control", cache_control)]);
        assert_eq!(
            outcomes(&gateway, path, 2).await,
            expected,
            "{cache_control}"
        );
    }
}

#[tokio::test]
async fn cdn_cache_control_takes_the_place_of_cache_control_when_it_is_valid() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    for (path, cache_control, targeted, expected) in [
        (
            "/restaurants/cdn-keeps",
            "no-store",
            "max-age=60",
            ["MISS", "HIT"],
        ),
        (
            "/restaurants/cdn-refuses",
            "max-age=60",
            "no-store",
            ["MISS", "MISS"],
        ),
        (
            "/restaurants/cdn-token",
            "max-age=60",
            "max-age=soon",
            ["MISS", "MISS"],
        ),
        (
            "/restaurants/cdn-invalid",
            "max-age=60",
            "max-age=60,,",
            ["MISS", "HIT"],
        ),
    ] {
        origin.serve(
            path,
            &[
                ("cache-control", cache_control),
                ("cdn-cache-control", targeted),
            ],
        );
        assert_eq!(outcomes(&gateway, path, 2).await, expected, "{targeted}");
    }
}

#[tokio::test]
async fn an_answer_to_a_request_with_credentials_is_shared_only_when_marked_so() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    origin.serve(
        "/restaurants/credentials",
        &[("cache-control", "max-age=60")],
    );
    origin.serve(
        "/restaurants/credentials-public",
        &[("cache-control", "public, max-age=60")],
    );
    let basic = [("authorization", "Basic YTpi")];
    for (path, expected) in [
        ("/restaurants/credentials", ["MISS", "MISS"]),
        ("/restaurants/credentials-public", ["MISS", "HIT"]),
    ] {
        let first = get(&gateway, path, &basic).await.0;
        let second = get(&gateway, path, &[]).await.0;
        assert_eq!([first, second], expected, "{path}");
    }
}

#[tokio::test]
async fn a_route_may_force_a_lifetime_and_the_client_may_ask_for_a_younger_copy() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[("--cache-ttls", "GET /restaurants/forced=60s")]).await;
    origin.serve("/restaurants/forced", &[]);
    assert_eq!(
        outcomes(&gateway, "/restaurants/forced", 2).await,
        ["MISS", "HIT"]
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (cache, body, _) = get(
        &gateway,
        "/restaurants/forced",
        &[("cache-control", "max-age=0")],
    )
    .await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("MISS", "200 call 2"),
        "max-age=0 from the client"
    );
}

#[tokio::test]
async fn a_forced_route_lifetime_keeps_no_error_the_origin_did_not_mark() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[("--cache-ttls", "GET /restaurants/failing=60s")]).await;
    let path = "/restaurants/failing";
    origin.script(path, 500, &[], Duration::ZERO);
    assert_eq!(outcomes(&gateway, path, 2).await, ["MISS", "MISS"]);
    assert_eq!(origin.calls(path), 2);
}

#[tokio::test]
async fn a_body_larger_than_the_cache_takes_is_answered_whole_and_not_stored() {
    let origin = Origin::start().await;
    // "call 1" is six bytes.
    let gateway = gateway(&origin, &[("--cache-max-body", "4")]).await;
    let path = "/restaurants/large";
    origin.serve(path, &[("cache-control", "max-age=60")]);
    for call in 1..=2 {
        let (cache, body, _) = get(&gateway, path, &[]).await;
        assert_eq!((cache.as_str(), body), ("MISS", format!("200 call {call}")));
    }
}
