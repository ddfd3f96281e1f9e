//! One deployment, from waiting for the new colour to its promotion or rollback.

use std::time::Duration;

use shared::registry::Instance;
use tokio::time::Instant;

use super::{
    Deployments,
    analysis::{Watch, verdict},
    record::{DeployState, DeployedInstance, Deployment, millis},
};

/// How often the new colour's calls are looked at while it is watched.
const TICK: Duration = Duration::from_millis(50);
/// How often the record is written while watching (and a rollback elsewhere noticed).
const SAVE_EVERY: Duration = Duration::from_secs(1);

impl Deployments {
    /// Runs `deployment` (already saved as pending) to its end.
    pub(super) async fn run(self, mut deployment: Deployment) {
        let settings = deployment.settings.clone();
        let deadline = Instant::now() + Duration::from_millis(settings.promote_within_ms);
        let Some(instances) = self.wait_for_colour(&mut deployment, deadline).await else {
            return;
        };
        deployment.instances = instances
            .iter()
            .map(|instance| DeployedInstance {
                id: instance.id.clone(),
                url: instance.url.clone(),
                version: instance.version.clone(),
            })
            .collect();
        let versions: Vec<&str> = instances.iter().map(|i| i.version.as_str()).collect();
        deployment.step(
            DeployState::SmokeTesting,
            "smoke-testing",
            format!(
                "{} instance(s), version {}",
                instances.len(),
                versions.join(", ")
            ),
        );
        if !self.save(&deployment, None).await {
            return;
        }
        if let Err(failures) = self.smoke(&instances, &settings.smoke_checks).await {
            deployment.step(
                DeployState::SmokeFailed,
                "smoke-failed",
                failures.join("; "),
            );
            self.save(&deployment, None).await;
            return;
        }
        if Instant::now() >= deadline {
            deployment.step(
                DeployState::Aborted,
                "aborted",
                "the smoke checks passed after the time to promote",
            );
            self.save(&deployment, None).await;
            return;
        }
        self.switch_and_watch(deployment).await;
    }

    /// The new colour's instances, once registered; `None` if it ended first.
    async fn wait_for_colour(
        &self,
        deployment: &mut Deployment,
        deadline: Instant,
    ) -> Option<Vec<Instance>> {
        loop {
            let (known, _) = self
                .0
                .discovery
                .instances(&deployment.service)
                .await
                .unwrap_or_default();
            let coloured: Vec<Instance> = known
                .into_iter()
                .filter(|instance| instance.colour == deployment.to)
                .collect();
            if !coloured.is_empty() {
                return Some(coloured);
            }
            if Instant::now() >= deadline {
                let detail = format!(
                    "no {} instance registered within {}",
                    deployment.to,
                    humantime::format_duration(Duration::from_millis(
                        deployment.settings.promote_within_ms
                    ))
                );
                deployment.step(DeployState::Aborted, "aborted", detail);
                self.save(deployment, None).await;
                return None;
            }
            if self.ended_elsewhere(deployment).await {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Moves the traffic, drains the old colour, and watches the new one for the window.
    async fn switch_and_watch(&self, mut deployment: Deployment) {
        let Some(backend) = self.backend(&deployment.service) else {
            return;
        };
        let settings = deployment.settings.clone();
        let (from, to) = (deployment.from.clone(), deployment.to.clone());
        let decided = Instant::now();
        deployment.step(
            DeployState::Draining,
            "switched",
            format!("{to} takes the traffic"),
        );
        if !self.save(&deployment, Some(&to)).await {
            return;
        }
        self.0.discovery.switch(&deployment.service, &to).await;
        deployment.timings.time_to_switch_ms = Some(millis(decided.elapsed()));

        let drain = Instant::now();
        let old: Vec<_> = backend
            .balancer
            .pool()
            .all
            .iter()
            .filter(|e| e.instance.as_ref().is_some_and(|i| i.colour == from))
            .cloned()
            .collect();
        while old.iter().any(|endpoint| endpoint.in_flight() > 0)
            && drain.elapsed() < self.0.args.deploy_drain_timeout
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = old.iter().map(|e| e.in_flight()).sum::<u32>();
        deployment.timings.drain_ms = Some(millis(drain.elapsed()));
        let window = Duration::from_millis(settings.window_ms);
        deployment.step(
            DeployState::Watching,
            "drained",
            format!(
                "{from}'s calls in flight finished ({left} left); watching {to} for {}: error rate at most {} %, p99 at most {} ms, judged after {} calls",
                humantime::format_duration(window),
                settings.max_error_rate,
                settings.max_p99_ms,
                settings.min_requests
            ),
        );
        if !self.save(&deployment, None).await {
            return;
        }

        let mut watch = Watch::start(backend.balancer.pool().routed.clone());
        let end = Instant::now() + window;
        let mut saved = Instant::now();
        loop {
            tokio::time::sleep(TICK).await;
            let analysis = watch.sample(&settings);
            if let Some(reason) = verdict(&analysis, &settings) {
                let decided = Instant::now();
                deployment.timings.time_to_detect_ms =
                    watch.onset.map(|onset| millis(decided - onset));
                deployment.analysis = Some(analysis);
                deployment.step(
                    DeployState::RolledBack,
                    "rolled-back",
                    format!("automatically: {reason}; {from} takes the traffic again"),
                );
                // Switched back here even if Redis does not answer: the new colour is failing.
                if self.try_save(&deployment, Some(&from)).await == Ok(false) {
                    return;
                }
                self.0.discovery.switch(&deployment.service, &from).await;
                deployment.timings.time_to_revert_ms = Some(millis(decided.elapsed()));
                self.finish(&deployment, &from).await;
                return;
            }
            if Instant::now() >= end {
                deployment.analysis = Some(analysis);
                deployment.step(
                    DeployState::Promoted,
                    "promoted",
                    format!("{to} stayed within the thresholds for the window"),
                );
                self.save(&deployment, None).await;
                return;
            }
            if saved.elapsed() >= SAVE_EVERY {
                deployment.analysis = Some(analysis);
                if !self.save(&deployment, None).await {
                    return;
                }
                saved = Instant::now();
            }
        }
    }

    /// Writes `deployment` (with `live`, the live colour); `false` when it was ended
    /// elsewhere, or cannot be written (then it stops where it is: traffic does not move
    /// without a record every gateway reads).
    async fn save(&self, deployment: &Deployment, live: Option<&str>) -> bool {
        self.try_save(deployment, live).await == Ok(true)
    }

    /// Writes `deployment`: `Ok(false)` when it was ended elsewhere, `Err` when Redis did
    /// not answer.
    async fn try_save(&self, deployment: &Deployment, live: Option<&str>) -> Result<bool, ()> {
        let Some(store) = self.0.store.as_ref() else {
            return Err(());
        };
        match store.save(deployment, live).await {
            Ok(true) => Ok(true),
            Ok(false) => {
                tracing::info!(service = %deployment.service, deployment = %deployment.id, "the deployment was ended elsewhere");
                Ok(false)
            }
            Err(err) => {
                tracing::error!(service = %deployment.service, deployment = %deployment.id, error = %err, "cannot record the deployment");
                Err(())
            }
        }
    }

    /// Writes a final record once more, with the timings measured after it ended.
    async fn finish(&self, deployment: &Deployment, live: &str) {
        if let Some(store) = self.0.store.as_ref()
            && let Err(err) = store.overwrite(deployment, live).await
        {
            tracing::warn!(service = %deployment.service, error = %err, "cannot record the deployment's timings");
        }
    }

    async fn ended_elsewhere(&self, deployment: &Deployment) -> bool {
        let Some(store) = self.0.store.as_ref() else {
            return true;
        };
        matches!(
            store.latest(&deployment.service).await,
            Ok(Some(stored)) if stored.id != deployment.id || stored.state.is_final()
        )
    }
}
