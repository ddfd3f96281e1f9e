use std::time::Duration;

use futures::future::join_all;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use shared::{
    auth::Role,
    testing::{TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted, admin_url, json_of};

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap_or_default())
}

async fn get(client: &Client, url: &str, token: Option<&str>) -> (String, Value) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 200, "{url}");
    let cache = header(&response, "x-cache").to_owned();
    (cache, response.json().await.expect("json"))
}

#[tokio::test]
async fn the_seeds_timeline_a_miss_then_hits_then_a_miss_once_the_ttl_has_passed() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.cache_control("public, max-age=300");
    // The route forces two seconds in place of the origin's five minutes.
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--cache-ttls", "/restaurants=2s")
        .spawn()
        .await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r1");

    let first = client.get(&url).send().await.expect("sent");
    assert_eq!(header(&first, "x-cache"), "MISS");
    assert_eq!(header(&first, "x-cache-source"), "Redis");
    assert_eq!(header(&first, "cache-control"), "public, max-age=300");
    let first: Value = first.json().await.expect("json");
    for _ in 0..4 {
        let hit = client.get(&url).send().await.expect("sent");
        assert_eq!(header(&hit, "x-cache"), "HIT");
        assert_eq!(header(&hit, "x-cache-source"), "Redis");
        assert_eq!(
            header(&hit, "cache-control"),
            "public, max-age=300",
            "the origin's, untouched"
        );
        assert!(!header(&hit, "age").is_empty(), "a hit says its age");
        let body: Value = hit.json().await.expect("json");
        assert_eq!(body, first, "the stored answer, byte for byte");
    }
    assert_eq!(restaurants.calls(), 1, "the hits never reached the backend");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (cache, body) = get(&client, &url, None).await;
    assert_eq!(cache, "MISS", "expired");
    assert_eq!(body["call"], 2);
    assert_eq!(restaurants.calls(), 2);

    let stats = json_of(client.get(format!("{}/stats/cache", admin_url(&gateway)))).await;
    assert_eq!(stats["hits"], 4, "{stats}");
    assert_eq!(stats["misses"], 2, "{stats}");
    assert_eq!(stats["requests"], 6, "{stats}");
    assert_eq!(stats["hit_rate_percent"], 66.7, "{stats}");
    assert!(
        stats["redis_memory_bytes"]
            .as_u64()
            .is_some_and(|bytes| bytes > 0),
        "{stats}"
    );
}

#[tokio::test]
async fn fifty_concurrent_misses_of_one_key_make_one_upstream_call() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.cache_control("public, max-age=300");
    restaurants.delay(Duration::from_millis(300));
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .spawn()
        .await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants?cuisine=thai&open=true");
    let answers = join_all((0..50).map(|_| get(&client, &url, None))).await;
    assert_eq!(restaurants.calls(), 1);
    assert!(answers.iter().all(|(_, body)| body["call"] == 1));
    let (cache, _) = get(
        &client,
        &format!("{gateway}/restaurants?open=true&cuisine=thai"),
        None,
    )
    .await;
    assert_eq!(cache, "HIT", "the query's order does not matter");
}

#[tokio::test]
async fn a_write_drops_the_cached_resource_and_its_collections_but_not_its_neighbours() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.cache_control("public, max-age=300");
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .spawn()
        .await;
    let client = Client::new();
    let menu = format!("{gateway}/restaurants/r1/menu");
    let collection = format!("{gateway}/restaurants");
    let neighbour = format!("{gateway}/restaurants/r2");
    for url in [&menu, &collection, &neighbour] {
        assert_eq!(get(&client, url, None).await.0, "MISS");
        assert_eq!(get(&client, url, None).await.0, "HIT");
    }
    let owner = issuer.token(Uuid::now_v7(), &[Role::RestaurantOwner]);
    let written = client
        .post(format!("{gateway}/restaurants/r1/menu/items"))
        .bearer_auth(&owner)
        .json(&json!({"name": "Pad thai"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(written.status().as_u16(), 200);
    assert_eq!(get(&client, &menu, None).await.0, "MISS");
    assert_eq!(get(&client, &collection, None).await.0, "MISS");
    assert_eq!(get(&client, &neighbour, None).await.0, "HIT");
}

#[tokio::test]
async fn the_upstreams_cache_control_decides_what_is_kept_and_for_whom() {
    let issuer = TestIssuer::start().await;
    let orders = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .spawn()
        .await;
    let client = Client::new();
    let (ada, bob) = (
        issuer.token(Uuid::now_v7(), &[Role::Customer]),
        issuer.token(Uuid::now_v7(), &[Role::Customer]),
    );

    // Private: each user's answer is theirs alone.
    orders.cache_control("private, max-age=60");
    let mine = format!("{gateway}/orders/o1");
    assert_eq!(get(&client, &mine, Some(&ada)).await.0, "MISS");
    let (cache, body) = get(&client, &mine, Some(&ada)).await;
    assert_eq!(
        (cache.as_str(), body["authorization"].as_str()),
        ("HIT", Some(format!("Bearer {ada}").as_str()))
    );
    assert_eq!(
        get(&client, &mine, Some(&bob)).await.0,
        "MISS",
        "not Ada's copy"
    );

    orders.cache_control("no-store");
    let unstored = format!("{gateway}/orders/o2");
    assert_eq!(get(&client, &unstored, Some(&ada)).await.0, "MISS");
    assert_eq!(get(&client, &unstored, Some(&ada)).await.0, "MISS");

    orders.cache_control("public, max-age=60");
    let shared = format!("{gateway}/orders/o3");
    assert_eq!(get(&client, &shared, Some(&ada)).await.0, "MISS");
    let response = client
        .get(&shared)
        .bearer_auth(&bob)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        header(&response, "x-cache"),
        "HIT",
        "public: one copy for everyone"
    );
    assert!(header(&response, "cache-control").starts_with("public, max-age=6"));
}

#[tokio::test]
async fn an_admin_purges_by_prefix_or_key_and_nobody_else_may() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.cache_control("public, max-age=300");
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .spawn()
        .await;
    let client = Client::new();
    for path in [
        "/restaurants/r1",
        "/restaurants/r1/menu",
        "/restaurants?cuisine=thai",
    ] {
        get(&client, &format!("{gateway}{path}"), None).await;
    }
    let purge = |token: String, body: Value| {
        client
            .post(format!("{gateway}/admin/cache/purge"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let customer = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    assert_problem(
        purge(customer, json!({"prefix": "/"})).await.expect("sent"),
        403,
    )
    .await;
    let neither = assert_problem(purge(admin.clone(), json!({})).await.expect("sent"), 422).await;
    assert!(neither.to_string().contains("key"), "{neither}");

    let not_a_path = assert_problem(
        purge(admin.clone(), json!({"prefix": "restaurants"}))
            .await
            .expect("sent"),
        422,
    )
    .await;
    assert!(not_a_path.to_string().contains("prefix"), "{not_a_path}");

    let purged = |body: Value| async {
        let answer: Value = purge(admin.clone(), body)
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        answer["purged"].clone()
    };
    assert_eq!(purged(json!({"key": "/restaurants?cuisine=thai"})).await, 1);
    assert_eq!(
        get(&client, &format!("{gateway}/restaurants/r1"), None)
            .await
            .0,
        "HIT"
    );

    assert_eq!(purged(json!({"prefix": "/restaurants/r1"})).await, 2);
    assert_eq!(
        get(&client, &format!("{gateway}/restaurants/r1/menu"), None)
            .await
            .0,
        "MISS"
    );
}

#[tokio::test]
async fn a_head_is_answered_from_the_gets_entry_without_a_body() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.cache_control("public, max-age=300");
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .spawn()
        .await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r9");
    assert_eq!(get(&client, &url, None).await.0, "MISS");
    let head = client.head(&url).send().await.expect("sent");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(header(&head, "x-cache"), "HIT");
    assert!(head.bytes().await.expect("a body").is_empty());
    assert_eq!(restaurants.calls(), 1);
}

#[tokio::test]
async fn a_prefix_purge_walks_a_keyspace_larger_than_one_scan_round() {
    let issuer = TestIssuer::start().await;
    let prefix = crate::helpers::unique_prefix();
    let gateway = GatewayBuilder::new(&issuer)
        .arg("--redis-key-prefix", &prefix)
        .spawn()
        .await;
    // More entries than one SCAN round (1000) looks at.
    let redis = redis::Client::open("redis://127.0.0.1:6379").expect("a Redis URL");
    let mut connection = redis
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let entries: Vec<(String, &str)> = (0..2500)
        .map(|i| {
            (
                format!("{prefix}:cache:public:GET:/restaurants/bulk{i}"),
                "x",
            )
        })
        .collect();
    redis::cmd("MSET")
        .arg(&entries)
        .query_async::<()>(&mut connection)
        .await
        .expect("seeded");

    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let answer = json_of(
        Client::new()
            .post(format!("{gateway}/admin/cache/purge"))
            .bearer_auth(admin)
            .json(&json!({"prefix": "/restaurants/bulk"})),
    )
    .await;
    assert_eq!(answer["purged"], 2500);
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:cache:*"))
        .query_async(&mut connection)
        .await
        .expect("listed");
    assert!(left.is_empty(), "{} entries left", left.len());
}
