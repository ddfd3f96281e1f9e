//! Calls a binary makes to another over HTTP, counted and timed as the server side counts
//! the requests it answers, so that both ends of a hop read alike.

use std::time::Duration;

use http::{Method, StatusCode};

use super::method_label;

/// How a call out ended, as the `status` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// An answer came, with this status.
    Answered(StatusCode),
    /// No answer in time.
    TimedOut,
    /// No answer at all: refused, reset, or unresolvable.
    Failed,
}

impl CallOutcome {
    /// The outcome of a reqwest call.
    pub fn of(result: &Result<reqwest::Response, reqwest::Error>) -> Self {
        match result {
            Ok(response) => Self::Answered(response.status()),
            Err(err) if err.is_timeout() => Self::TimedOut,
            Err(_) => Self::Failed,
        }
    }

    fn label(self) -> String {
        match self {
            Self::Answered(status) => status.as_str().to_owned(),
            Self::TimedOut => "timeout".to_owned(),
            Self::Failed => "error".to_owned(),
        }
    }
}

/// Records one call to `upstream` (the service called) at `route` (a template such as
/// `/restaurants/{id}`, never the path itself, which would make a series per id):
/// `http_client_requests_total` and `http_client_request_duration_seconds`, labelled by
/// upstream, method, route and status.
pub fn record_call(
    upstream: &'static str,
    method: &Method,
    route: &'static str,
    outcome: CallOutcome,
    elapsed: Duration,
) {
    let labels = [
        ("upstream", upstream.to_owned()),
        ("method", method_label(method).to_owned()),
        ("route", route.to_owned()),
        ("status", outcome.label()),
    ];
    metrics::counter!("http_client_requests_total", &labels).increment(1);
    metrics::histogram!("http_client_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_counted_by_upstream_route_template_and_status() {
        super::super::handle();
        let route = "/client-test/{id}";
        record_call(
            "menu-service",
            &Method::GET,
            route,
            CallOutcome::Answered(StatusCode::NOT_FOUND),
            Duration::from_millis(3),
        );
        record_call(
            "menu-service",
            &Method::GET,
            route,
            CallOutcome::TimedOut,
            Duration::from_secs(2),
        );
        let text = super::super::handle().render();
        for status in ["404", "timeout"] {
            let line = format!(
                r#"http_client_requests_total{{upstream="menu-service",method="GET",route="/client-test/{{id}}",status="{status}"}} 1"#
            );
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        assert!(text.contains("# HELP http_client_request_duration_seconds "));
    }
}
