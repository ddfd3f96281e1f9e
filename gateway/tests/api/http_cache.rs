//! The cache as an RFC 9111 shared cache, against an origin that sends each header
//! combination a test gives it.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime},
};

use axum::{Router, extract::State, http::Request, response::IntoResponse, routing::any};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use reqwest::Client;
use shared::testing::TestIssuer;

use crate::helpers::GatewayBuilder;

/// What the origin answers at one path.
#[derive(Debug, Clone)]
struct Script {
    status: u16,
    headers: Vec<(String, String)>,
    delay: Duration,
}

/// An origin whose answers the test sets per path; each body is the call's number there.
#[derive(Clone)]
struct Origin {
    url: String,
    scripts: Arc<Mutex<HashMap<String, Script>>>,
    calls: Arc<Mutex<HashMap<String, Arc<AtomicU32>>>>,
}

impl Origin {
    async fn start() -> Self {
        let origin = Self {
            url: String::new(),
            scripts: Arc::default(),
            calls: Arc::default(),
        };
        let router = Router::new()
            .fallback(any(answer))
            .with_state(origin.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, ..origin }
    }

    /// `path` answers 200 with `headers` from now on (an error status, without them).
    fn serve(&self, path: &str, headers: &[(&str, &str)]) {
        self.script(path, 200, headers, Duration::ZERO);
    }

    fn script(&self, path: &str, status: u16, headers: &[(&str, &str)], delay: Duration) {
        let headers = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        self.scripts.lock().expect("lock").insert(
            path.to_owned(),
            Script {
                status,
                headers,
                delay,
            },
        );
    }

    /// Changes only `path`'s status, keeping its headers.
    fn answer_with(&self, path: &str, status: u16, delay: Duration) {
        if let Some(script) = self.scripts.lock().expect("lock").get_mut(path) {
            script.status = status;
            script.delay = delay;
        }
    }

    fn calls(&self, path: &str) -> u32 {
        self.counter(path).load(Ordering::SeqCst)
    }

    fn counter(&self, path: &str) -> Arc<AtomicU32> {
        self.calls
            .lock()
            .expect("lock")
            .entry(path.to_owned())
            .or_default()
            .clone()
    }
}

async fn answer(
    State(origin): State<Origin>,
    request: Request<axum::body::Body>,
) -> impl IntoResponse {
    let path = request.uri().path().to_owned();
    let call = origin.counter(&path).fetch_add(1, Ordering::SeqCst) + 1;
    let script = origin.scripts.lock().expect("lock").get(&path).cloned();
    let Some(script) = script else {
        return (StatusCode::NOT_FOUND, HeaderMap::new(), String::new());
    };
    tokio::time::sleep(script.delay).await;
    let status = StatusCode::from_u16(script.status).expect("a status");
    let mut headers = HeaderMap::new();
    // An error page says nothing of caching, as most do.
    let said = if status.is_success() {
        script.headers.as_slice()
    } else {
        &[]
    };
    for (name, value) in said {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a name"),
            HeaderValue::from_str(value).expect("a value"),
        );
    }
    (status, headers, format!("call {call}"))
}

/// A gateway with restaurant-service at `origin`, calls timing out after 300 ms.
async fn gateway(origin: &Origin, extra: &[(&str, &str)]) -> String {
    let issuer = TestIssuer::start().await;
    let mut builder = GatewayBuilder::new(&issuer)
        .backend("restaurant", &origin.url)
        .arg("--upstream-timeout", "300ms")
        .arg("--retry-attempts", "1");
    for (flag, value) in extra {
        builder = builder.arg(flag, value);
    }
    builder.spawn().await
}

/// One GET: `X-Cache`, body, headers.
async fn get(gateway: &str, path: &str, headers: &[(&str, &str)]) -> (String, String, HeaderMap) {
    let mut request = Client::new().get(format!("{gateway}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    let headers = response.headers().clone();
    let cache = headers
        .get("x-cache")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    (cache, format!("{status} {body}"), headers)
}

/// `x-cache` of each of `count` GETs of `path`.
async fn outcomes(gateway: &str, path: &str, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..count {
        seen.push(get(gateway, path, &[]).await.0);
    }
    seen
}

fn http_date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

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
        (
            "/restaurants/comma",
            "private=\"a, b\", max-age=60, public",
            ["MISS", "MISS"],
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
