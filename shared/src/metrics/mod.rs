//! Prometheus metrics: one process-wide recorder, HTTP request counters and latencies, and
//! the help text of every metric this crate records.
//!
//! Names follow Prometheus's conventions: base units in the name (`_seconds`), `_total` on
//! counters, an enumeration as one series per value, and labels of bounded values only
//! (route templates, never paths). Every binary's `/metrics` passes `promtool check metrics`.

mod client;

pub use client::{CallOutcome, record_call};

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{Method, StatusCode, header};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Every histogram's buckets, in seconds: from a cache hit's half millisecond to a saga's
/// minutes, so that each is a histogram Prometheus can aggregate rather than a summary.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// The process's Prometheus recorder, installed on first use.
///
/// `metrics` has one global recorder per process by design; tests that build several apps
/// in one process share it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; metrics then go there.
        let _ = metrics::set_global_recorder(recorder);
        keep_up(handle.clone());
        give_help(OWN_METRICS);
        handle
    })
}

/// A metric's kind, name and help text, for [`describe`].
pub type Description = (Kind, &'static str, &'static str);

/// The kind of a metric, as Prometheus's `# TYPE` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Gives each metric its help text (the `# HELP` line), installing the recorder first if need
/// be: each crate describes the metrics it records, once at start.
pub fn describe(descriptions: &[Description]) {
    handle();
    give_help(descriptions);
}

/// [`describe`], with the recorder already installed.
fn give_help(descriptions: &[Description]) {
    for &(kind, name, help) in descriptions {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

const OWN_METRICS: &[Description] = &[
    (
        Kind::Counter,
        "http_requests_total",
        "Requests answered, by method, route template and status.",
    ),
    (
        Kind::Histogram,
        "http_request_duration_seconds",
        "Time from a request's arrival to its answer, by method, route template and status.",
    ),
    (
        Kind::Counter,
        "http_client_requests_total",
        "Calls made to another service over HTTP, by upstream, method, route template and status (or timeout, error).",
    ),
    (
        Kind::Histogram,
        "http_client_request_duration_seconds",
        "Time a call to another service took, by upstream, method, route template and status.",
    ),
    (
        Kind::Gauge,
        "circuit_breaker_state",
        "1 for the state each circuit breaker is in (closed, open, half_open), 0 for the others.",
    ),
    (
        Kind::Counter,
        "circuit_breaker_transitions_total",
        "Changes of a circuit breaker's state, by the state changed to.",
    ),
];

/// How often histograms' samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Folds the histograms' recorded samples into their buckets every [`UPKEEP_INTERVAL`]. The
/// recorder keeps every sample until then (a rendering does it too), so without this a
/// process nobody scrapes would grow by each request's samples without end.
///
/// A thread rather than a task: the recorder is process-wide, and outlives any runtime.
fn keep_up(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the metrics upkeep; histograms grow until scraped");
    }
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn render_metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
}

/// Counts requests and records their latency by method, route template and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    record_request(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        response.status(),
        started.elapsed(),
    );
    response
}

/// Records one answered request, `elapsed` after it came, as [`track_requests`] does: for a
/// middleware of its own that takes the place of that layer.
pub fn record_request(route: Option<&str>, method: &Method, status: StatusCode, elapsed: Duration) {
    let method = method_label(method);
    let route = route.unwrap_or("unmatched");
    let elapsed = elapsed.as_secs_f64();
    let status = status.as_u16();
    REQUEST_METRICS.with_borrow_mut(|routes| {
        let known = routes
            .get(route)
            .and_then(|calls| calls.get(&(method, status)));
        let (count, latency) = match known {
            Some(handles) => handles,
            None => routes
                .entry(route.into())
                .or_default()
                .entry((method, status))
                .or_insert_with(|| register_request_metrics(route, method, status)),
        };
        count.increment(1);
        latency.record(elapsed);
    });
}

/// A request's handles, by method and status.
type CallMetrics = HashMap<(&'static str, u16), (Counter, Histogram), Hasher>;

/// Keys here are route templates, methods and statuses, not attacker-chosen text: a fast
/// hash serves them better than the standard one, built to resist flooding.
type Hasher = foldhash::fast::RandomState;

thread_local! {
    /// Each serving thread keeps the handles it has used, by route template: a request then
    /// costs two atomic updates instead of building its labels and finding them in the
    /// registry.
    static REQUEST_METRICS: RefCell<HashMap<Box<str>, CallMetrics, Hasher>> =
        RefCell::new(HashMap::default());
}

fn register_request_metrics(
    route: &str,
    method: &'static str,
    status: u16,
) -> (Counter, Histogram) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    (
        metrics::counter!("http_requests_total", &labels),
        metrics::histogram!("http_request_duration_seconds", &labels),
    )
}

/// The method's name, or `OTHER` for extension methods, which a client may invent without
/// end and which would each make new series.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_counted_by_method_route_template_and_status() {
        use axum::{Router, body::Body, middleware, routing::get};
        use tower::ServiceExt;

        handle();
        let router = Router::new()
            .route("/metrics-test/{id}", get(|| async { "ok" }))
            .route_layer(middleware::from_fn(track_requests));
        for _ in 0..3 {
            let request = Request::get("/metrics-test/7")
                .body(Body::empty())
                .expect("a request");
            let response = router.clone().oneshot(request).await.expect("answered");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let text = handle().render();
        assert!(
            text.lines().any(|line| line
                == r#"http_requests_total{method="GET",route="/metrics-test/{id}",status="200"} 3"#),
            "{text}"
        );
    }

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let invented = Method::from_bytes(b"BREW").expect("a method");
        assert_eq!(method_label(&invented), "OTHER");
    }
}
