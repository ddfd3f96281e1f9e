//! Watching the new colour after a switch: its calls since then (counts and latencies, less a
//! record taken at the switch), judged against the deployment's thresholds.

use std::sync::Arc;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::record::{Analysis, DeploySettings};
use gateway_upstream::{CallRecord, Endpoint};

/// The new colour's instances and what their calls were at the switch.
#[derive(Debug)]
pub struct Watch {
    baseline: Vec<(Arc<Endpoint>, CallRecord)>,
    /// When a failed or slow call was first seen.
    pub onset: Option<Instant>,
}

impl Watch {
    /// Starts watching `endpoints` from now.
    pub fn start(endpoints: Vec<Arc<Endpoint>>) -> Self {
        let baseline = endpoints
            .into_iter()
            .map(|endpoint| {
                let calls = endpoint.calls();
                (endpoint, calls)
            })
            .collect();
        Self {
            baseline,
            onset: None,
        }
    }

    /// The calls since the switch, noting when the first bad one was seen.
    pub fn sample(&mut self, settings: &DeploySettings) -> Analysis {
        let mut requests = 0;
        let mut failures = 0;
        let mut latencies: Option<Histogram<u64>> = None;
        for (endpoint, before) in &self.baseline {
            let mut now = endpoint.calls();
            requests += now.requests.saturating_sub(before.requests);
            failures += now.failures.saturating_sub(before.failures);
            if now.latencies.subtract(&before.latencies).is_err() {
                continue;
            }
            match &mut latencies {
                Some(all) => {
                    // Same bounds: adding cannot fail.
                    let _ = all.add(&now.latencies);
                }
                None => latencies = Some(now.latencies),
            }
        }
        let (p99_micros, slowest) =
            latencies.map_or((0, 0), |all| (all.value_at_quantile(0.99), all.max()));
        if self.onset.is_none() && (failures > 0 || slowest / 1000 > settings.max_p99_ms) {
            self.onset = Some(Instant::now());
        }
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let error_rate = if requests == 0 {
            0.0
        } else {
            (failures as f64 * 1000.0 / requests as f64).round() / 10.0
        };
        #[allow(clippy::cast_precision_loss)]
        let p99_ms = (p99_micros as f64 / 100.0).round() / 10.0;
        Analysis {
            requests,
            failures,
            error_rate,
            p99_ms,
        }
    }
}

/// Why `analysis` reverts the switch, if it does: only once enough calls were made.
pub fn verdict(analysis: &Analysis, settings: &DeploySettings) -> Option<String> {
    if analysis.requests < settings.min_requests {
        return None;
    }
    if analysis.error_rate > settings.max_error_rate {
        return Some(format!(
            "error rate {} % over {} calls is above {} %",
            analysis.error_rate, analysis.requests, settings.max_error_rate
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    if analysis.p99_ms > settings.max_p99_ms as f64 {
        return Some(format!(
            "p99 {} ms over {} calls is above {} ms",
            analysis.p99_ms, analysis.requests, settings.max_p99_ms
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeploySettings {
        DeploySettings {
            smoke_checks: Vec::new(),
            window_ms: 10_000,
            max_error_rate: 5.0,
            max_p99_ms: 500,
            min_requests: 20,
            promote_within_ms: 60_000,
        }
    }

    fn analysis(requests: u64, failures: u64, p99_ms: f64) -> Analysis {
        #[allow(clippy::cast_precision_loss)]
        let error_rate = failures as f64 * 100.0 / requests.max(1) as f64;
        Analysis {
            requests,
            failures,
            error_rate,
            p99_ms,
        }
    }

    #[test]
    fn too_few_calls_are_not_judged() {
        assert_eq!(verdict(&analysis(19, 19, 9000.0), &settings()), None);
    }

    #[test]
    fn an_error_rate_or_a_p99_above_its_threshold_reverts() {
        assert_eq!(verdict(&analysis(100, 5, 100.0), &settings()), None);
        let errors = verdict(&analysis(100, 6, 100.0), &settings()).expect("reverts");
        assert!(errors.contains("error rate"), "{errors}");
        let slow = verdict(&analysis(100, 0, 501.0), &settings()).expect("reverts");
        assert!(slow.contains("p99"), "{slow}");
    }
}
