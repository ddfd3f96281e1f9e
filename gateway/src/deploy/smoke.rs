//! Smoke checks: a `GET` of each check's path on every instance of the new colour, which must
//! answer the expected status in time, before any traffic moves.

use std::time::Duration;

use shared::registry::Instance;

use super::{Deployments, record::SmokeCheck};

/// How long one smoke check may take.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(5);

impl Deployments {
    /// Every check on every instance; what failed, if anything did.
    pub(super) async fn smoke(
        &self,
        instances: &[Instance],
        checks: &[SmokeCheck],
    ) -> Result<(), Vec<String>> {
        let mut failures = Vec::new();
        for instance in instances {
            for check in checks {
                let url = format!("{}{}", instance.url.trim_end_matches('/'), check.path);
                let client = &self.0.client;
                let Ok(request) = client.get(&url).build() else {
                    failures.push(format!("GET {url}: not a valid URL"));
                    continue;
                };
                match tokio::time::timeout(SMOKE_TIMEOUT, client.execute(request)).await {
                    Ok(Ok(response)) if response.status().as_u16() == check.status => {}
                    Ok(Ok(response)) => failures.push(format!(
                        "GET {url} answered {}, expected {}",
                        response.status().as_u16(),
                        check.status
                    )),
                    Ok(Err(err)) => failures.push(format!("GET {url} failed: {err}")),
                    Err(_) => failures.push(format!(
                        "GET {url} did not answer within {}",
                        humantime::format_duration(SMOKE_TIMEOUT)
                    )),
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }
}
