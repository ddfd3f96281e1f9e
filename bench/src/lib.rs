//! A trivial upstream for benchmarking the gateway against nginx: fixed JSON answers with
//! nothing behind them, so that what a measurement shows is the proxy in front.
//!
//! - `GET /restaurants/bench`: cacheable (`Cache-Control: public, max-age=300`), for the
//!   proxies' cache-hit paths;
//! - `GET /orders/bench`: never cacheable (`Cache-Control: no-store`), for the pure proxy path;
//! - `GET /ready`: 200;
//! - `GET /bench/hits`: how many times each of the two routes was answered, so that a run can
//!   tell whether a proxy really answered from its cache.
//!
//! [`bare_proxy`] is the other end of the scale: a proxy on the gateway's HTTP stack with
//! none of its features; [`bare_proxy_hyper`] the same with hyper's client in place of the
//! gateway's, to measure one against the other.

pub mod bare_proxy;
pub mod bare_proxy_hyper;
pub mod saga;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::get,
};

/// The answer of both benchmark routes: about 200 bytes of JSON, the size of a small resource.
pub const BODY: &str = concat!(
    r#"{"id":"0190c3a4-7b1e-7cc2-9a5e-3f2d1c0b9a87","name":"Benchmark Bistro","#,
    r#""cuisine":"test","address":"1 Loopback Lane","location":{"lat":48.8566,"lon":2.3522},"#,
    r#""rating":4.5,"open":true,"delivery_minutes":25,"currency":"EUR"}"#
);

/// How many requests each benchmark route has answered.
#[derive(Debug, Default)]
pub struct Hits {
    restaurants: AtomicU64,
    orders: AtomicU64,
}

/// The upstream's routes.
pub fn router() -> Router {
    let hits = Arc::new(Hits::default());
    Router::new()
        .route("/restaurants/bench", get(restaurants))
        .route("/orders/bench", get(orders))
        .route("/ready", get(|| async { "ready" }))
        .route("/bench/hits", get(hits_so_far))
        .with_state(hits)
}

async fn restaurants(State(hits): State<Arc<Hits>>) -> impl IntoResponse {
    hits.restaurants.fetch_add(1, Ordering::Relaxed);
    json_answer("public, max-age=300")
}

async fn orders(State(hits): State<Arc<Hits>>) -> impl IntoResponse {
    hits.orders.fetch_add(1, Ordering::Relaxed);
    json_answer("no-store")
}

async fn hits_so_far(State(hits): State<Arc<Hits>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        format!(
            r#"{{"restaurants":{},"orders":{}}}"#,
            hits.restaurants.load(Ordering::Relaxed),
            hits.orders.load(Ordering::Relaxed)
        ),
    )
}

fn json_answer(cache_control: &'static str) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            ),
        ],
        BODY,
    )
}

#[cfg(test)]
mod tests {
    use axum::{
        body::{Body, to_bytes},
        http::{Request, StatusCode},
    };
    use tower::ServiceExt;

    use super::*;

    async fn get(app: &Router, path: &str) -> (StatusCode, Option<String>, String) {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status();
        let cache_control = response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|value| value.to_str().expect("ASCII").to_owned());
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (
            status,
            cache_control,
            String::from_utf8(body.to_vec()).expect("UTF-8"),
        )
    }

    #[tokio::test]
    async fn the_restaurants_route_is_cacheable_and_the_orders_route_is_not() {
        let app = router();
        let (status, cache_control, body) = get(&app, "/restaurants/bench").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache_control.as_deref(), Some("public, max-age=300"));
        assert_eq!(body, BODY);
        let (status, cache_control, body) = get(&app, "/orders/bench").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache_control.as_deref(), Some("no-store"));
        assert_eq!(body, BODY);
    }

    #[tokio::test]
    async fn the_body_is_small_json_and_hits_are_counted_per_route() {
        assert!((150..=300).contains(&BODY.len()), "{} bytes", BODY.len());
        let app = router();
        assert_eq!(get(&app, "/ready").await.0, StatusCode::OK);
        get(&app, "/orders/bench").await;
        get(&app, "/orders/bench").await;
        get(&app, "/restaurants/bench").await;
        let (_, _, hits) = get(&app, "/bench/hits").await;
        assert_eq!(hits, r#"{"restaurants":1,"orders":2}"#);
    }
}
