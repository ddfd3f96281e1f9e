//! When a stale copy may answer.

use std::time::Duration;

use super::{Origin, gateway, get};

#[tokio::test]
async fn a_stale_copy_answers_an_unreachable_origin_unless_it_must_be_revalidated() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[("--cache-stale-limit", "60s")]).await;
    origin.serve("/restaurants/lenient", &[("cache-control", "max-age=1")]);
    origin.serve(
        "/restaurants/strict",
        &[("cache-control", "max-age=1, must-revalidate")],
    );
    origin.serve("/restaurants/shared", &[("cache-control", "s-maxage=1")]);
    for path in [
        "/restaurants/lenient",
        "/restaurants/strict",
        "/restaurants/shared",
    ] {
        get(&gateway, path, &[]).await;
        origin.answer_with(path, 200, Duration::from_secs(2));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (cache, body, _) = get(&gateway, "/restaurants/lenient", &[]).await;
    assert_eq!((cache.as_str(), body.as_str()), ("STALE", "200 call 1"));
    for path in ["/restaurants/strict", "/restaurants/shared"] {
        let (_, body, _) = get(&gateway, path, &[]).await;
        assert!(body.starts_with("504"), "{path}: {body}");
    }
}

#[tokio::test]
async fn stale_if_error_answers_for_a_5xx_within_its_window_and_only_with_it() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    origin.serve(
        "/restaurants/fallback",
        &[("cache-control", "max-age=1, stale-if-error=60")],
    );
    origin.serve("/restaurants/plain", &[("cache-control", "max-age=1")]);
    for path in ["/restaurants/fallback", "/restaurants/plain"] {
        get(&gateway, path, &[]).await;
        origin.answer_with(path, 500, Duration::ZERO);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (cache, body, _) = get(&gateway, "/restaurants/fallback", &[]).await;
    assert_eq!((cache.as_str(), body.as_str()), ("STALE", "200 call 1"));
    let (_, body, _) = get(&gateway, "/restaurants/plain", &[]).await;
    assert!(body.starts_with("500"), "{body}");
    let (cache, body, _) = get(
        &gateway,
        "/restaurants/plain",
        &[("cache-control", "stale-if-error=60")],
    )
    .await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("STALE", "200 call 1"),
        "the client may allow it too"
    );
}

#[tokio::test]
async fn stale_while_revalidate_answers_at_once_and_refreshes_behind_the_answer() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/refreshed";
    origin.serve(
        path,
        &[("cache-control", "max-age=1, stale-while-revalidate=30")],
    );
    get(&gateway, path, &[]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The refreshed copy lives longer, so that it is seen fresh (a second's `Date` may take
    // a whole lifetime of one second).
    origin.script(
        path,
        200,
        &[("cache-control", "max-age=60")],
        Duration::from_millis(200),
    );
    let (cache, body, _) = get(&gateway, path, &[]).await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("STALE", "200 call 1"),
        "no wait"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (cache, body, _) = get(&gateway, path, &[]).await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("HIT", "200 call 2"),
        "refreshed behind"
    );
    assert_eq!(origin.calls(path), 2);
}

#[tokio::test]
async fn the_client_may_take_a_stale_copy_or_ask_for_a_stored_one_only() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/client-limits";
    let (_, body, _) = get(&gateway, path, &[("cache-control", "only-if-cached")]).await;
    assert!(body.starts_with("504 "), "nothing stored: {body}");
    assert_eq!(origin.calls(path), 0, "never the backend");
    origin.serve(path, &[("cache-control", "max-age=1")]);
    get(&gateway, path, &[]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for asked in ["max-stale=60", "max-stale", "only-if-cached, max-stale"] {
        let (cache, body, _) = get(&gateway, path, &[("cache-control", asked)]).await;
        assert_eq!(
            (cache.as_str(), body.as_str()),
            ("STALE", "200 call 1"),
            "{asked}"
        );
    }
    assert_eq!(origin.calls(path), 1);
    let (cache, body, _) = get(&gateway, path, &[("cache-control", "max-stale=0")]).await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("MISS", "200 call 2"),
        "too stale for it"
    );
}
