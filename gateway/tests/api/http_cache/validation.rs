//! Validation with the origin, and the client's conditional and range requests answered from
//! the stored copy.

use std::time::Duration;

use shared::{auth::Role, testing::TestIssuer};
use uuid::Uuid;

use super::{Origin, gateway, get, outcomes};
use crate::helpers::GatewayBuilder;

#[tokio::test]
async fn a_stale_copy_with_an_etag_is_validated_and_a_304_freshens_it_with_its_fields() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/validated";
    origin.serve(path, &[("cache-control", "max-age=1"), ("etag", "\"v1\"")]);
    get(&gateway, path, &[]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The origin now says "not modified" to a request that names v1, with a longer lifetime.
    origin.not_modified_for(
        path,
        "\"v1\"",
        &[("cache-control", "max-age=60"), ("x-origin", "2")],
    );
    let (cache, body, headers) = get(&gateway, path, &[]).await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("HIT", "200 call 1"),
        "the stored body"
    );
    assert_eq!(headers["cache-control"], "max-age=60", "the 304's fields");
    assert_eq!(headers["x-origin"], "2");
    assert_eq!(origin.calls(path), 2);
    let (cache, _, _) = get(&gateway, path, &[]).await;
    assert_eq!(cache, "HIT", "fresh again for a minute");
    assert_eq!(origin.calls(path), 2);
}

#[tokio::test]
async fn a_no_cache_response_is_stored_and_validated_before_every_use() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/no-cache";
    origin.serve(path, &[("cache-control", "no-cache"), ("etag", "W/\"n1\"")]);
    assert_eq!(get(&gateway, path, &[]).await.0, "MISS");
    origin.not_modified_for(path, "W/\"n1\"", &[]);
    for _ in 0..2 {
        let (cache, body, _) = get(&gateway, path, &[]).await;
        assert_eq!((cache.as_str(), body.as_str()), ("HIT", "200 call 1"));
    }
    assert_eq!(origin.calls(path), 3, "asked every time");
}

#[tokio::test]
async fn a_clients_conditional_request_gets_a_304_from_the_cache() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/conditional";
    let modified = "Tue, 01 Dec 2026 10:00:00 GMT";
    origin.serve(
        path,
        &[
            ("cache-control", "max-age=60"),
            ("etag", "\"c1\""),
            ("last-modified", modified),
        ],
    );
    let (_, body, _) = get(&gateway, path, &[("if-none-match", "\"c1\"")]).await;
    assert_eq!(body, "304 ", "a miss answers the condition too");
    let (cache, body, headers) =
        get(&gateway, path, &[("if-none-match", "W/\"x\", W/\"c1\"")]).await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("HIT", "304 "),
        "weak comparison"
    );
    assert_eq!(headers["etag"], "\"c1\"");
    assert_eq!(headers["cache-control"], "max-age=60");
    let (_, body, _) = get(&gateway, path, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(body, "200 call 1");
    let (_, body, _) = get(&gateway, path, &[("if-modified-since", modified)]).await;
    assert_eq!(body, "304 ");
    let (_, body, _) = get(
        &gateway,
        path,
        &[("if-modified-since", "Mon, 30 Nov 2026 10:00:00 GMT")],
    )
    .await;
    assert_eq!(body, "200 call 1");
    let (_, body, _) = get(&gateway, path, &[("if-match", "\"other\"")]).await;
    assert_eq!(body, "412 ");
    let (_, body, _) = get(&gateway, path, &[("if-match", "*")]).await;
    assert_eq!(body, "200 call 1", "* names what is stored");
    let (_, body, _) = get(&gateway, path, &[("if-none-match", "*")]).await;
    assert_eq!(body, "304 ");
    assert_eq!(
        origin.calls(path),
        1,
        "never asked the origin with the client's conditions"
    );
}

#[tokio::test]
async fn a_range_is_cut_from_the_stored_copy() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/range";
    origin.serve(path, &[("cache-control", "max-age=60"), ("etag", "\"r1\"")]);
    // The body is "call 1": six bytes.
    let (_, body, _) = get(&gateway, path, &[]).await;
    assert_eq!(body, "200 call 1");
    let (cache, body, headers) = get(&gateway, path, &[("range", "bytes=0-3")]).await;
    assert_eq!((cache.as_str(), body.as_str()), ("HIT", "206 call"));
    assert_eq!(headers["content-range"], "bytes 0-3/6");
    assert_eq!(headers["content-length"], "4");
    let (_, body, headers) = get(&gateway, path, &[("range", "bytes=-1")]).await;
    assert_eq!(
        (
            body.as_str(),
            headers["content-range"].to_str().expect("text")
        ),
        ("206 1", "bytes 5-5/6")
    );
    let (_, body, headers) = get(&gateway, path, &[("range", "bytes=9-")]).await;
    assert_eq!(
        (
            body.as_str(),
            headers["content-range"].to_str().expect("text")
        ),
        ("416 ", "bytes */6")
    );
    let (_, body, _) = get(
        &gateway,
        path,
        &[("range", "bytes=0-1"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(
        body, "200 call 1",
        "If-Range that no longer matches: the whole"
    );
    let (_, body, _) = get(&gateway, path, &[("range", "bytes=0-1,3-4")]).await;
    assert_eq!(body, "200 call 1", "several ranges: the whole");
    assert_eq!(origin.calls(path), 1);
}

#[tokio::test]
async fn a_write_answered_with_a_location_drops_the_entry_it_names() {
    let issuer = TestIssuer::start().await;
    let origin = Origin::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &origin.url)
        .spawn()
        .await;
    let named = "/restaurants/r9/menu";
    origin.serve(named, &[("cache-control", "max-age=60")]);
    assert_eq!(outcomes(&gateway, named, 2).await, ["MISS", "HIT"]);
    // A write to another restaurant (not below the menu) whose answer names the menu.
    let elsewhere = "/restaurants/r1/menu/items";
    origin.script(elsewhere, 201, &[("location", named)], Duration::ZERO);
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let written = reqwest::Client::new()
        .post(format!("{gateway}{elsewhere}"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "Pad thai"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(written.status().as_u16(), 201);
    assert_eq!(outcomes(&gateway, named, 1).await, ["MISS"]);
}

#[tokio::test]
async fn a_304_for_another_copy_than_the_stored_one_is_asked_again_without_conditions() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/changed-tag";
    origin.serve(path, &[("cache-control", "max-age=1"), ("etag", "\"v1\"")]);
    get(&gateway, path, &[]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The origin says "not modified" naming v2, which is not the copy stored.
    origin.not_modified_for(path, "\"v1\"", &[("etag", "\"v2\"")]);
    let (cache, body, _) = get(&gateway, path, &[]).await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("MISS", "200 call 3"),
        "a whole answer, not the 304"
    );
}

#[tokio::test]
async fn an_answer_that_may_not_be_shared_is_not_handed_to_concurrent_requests() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/private-at-once";
    origin.script(
        path,
        200,
        &[("cache-control", "private, max-age=60")],
        Duration::from_millis(200),
    );
    let asks = (0..5).map(|_| {
        let gateway = gateway.clone();
        async move { get(&gateway, path, &[]).await.1 }
    });
    let mut bodies = futures::future::join_all(asks).await;
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 5, "each its own answer: {bodies:?}");
    assert_eq!(origin.calls(path), 5);
}
