//! The public port's `/health`: whether each backend answers, from a report made at most a
//! second before, so that a flood of health calls costs the backends (and their databases)
//! one check a second; each backend's state and latency only, no address and no error text.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::Method;
use shared::health::{CheckReport, Checks, HealthReport};
use tokio::{sync::Mutex, time::Instant};

/// How long a report answers.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The backends' checks and the latest public report of them.
#[derive(Debug, Clone)]
pub struct PublicHealth(Arc<PublicHealthInner>);

#[derive(Debug)]
struct PublicHealthInner {
    checks: Checks,
    /// Held while a report is made, so that concurrent calls wait for one check.
    latest: Mutex<Option<(Instant, Arc<HealthReport>)>>,
}

impl PublicHealth {
    /// Reports on `checks`.
    pub fn new(checks: Checks) -> Self {
        Self(Arc::new(PublicHealthInner {
            checks,
            latest: Mutex::new(None),
        }))
    }

    /// The report, made again when the latest is more than a second old.
    pub async fn report(&self) -> Arc<HealthReport> {
        let mut latest = self.0.latest.lock().await;
        if let Some((made, report)) = latest.as_ref()
            && made.elapsed() < FRESH_FOR
        {
            return Arc::clone(report);
        }
        let checks = self
            .0
            .checks
            .run()
            .await
            .into_iter()
            .map(|(name, check)| {
                let public = CheckReport {
                    status: check.status,
                    latency_ms: check.latency_ms,
                    error: None,
                    target: None,
                };
                (name, public)
            })
            .collect();
        let report = Arc::new(super::report(checks));
        *latest = Some((Instant::now(), Arc::clone(&report)));
        report
    }

    /// The answer to `GET /health`, finished as the gateway's own routes' are.
    pub async fn answer(&self, method: &Method) -> Response {
        let started = Instant::now();
        let mut response = Json(self.report().await.as_ref().clone()).into_response();
        crate::admission::finish(&mut response, Some("/health"), method, started.elapsed());
        response
    }
}
