//! The experiments in Redis: one hash of their definitions, read by every gateway each
//! second, and each experiment's counts under `experiment:<id>:`.

use std::sync::{Arc, atomic::Ordering};

use super::{Experiment, ExperimentState, Experiments};

impl Experiments {
    fn key(&self) -> String {
        self.0.store.key(&["experiments"])
    }

    /// Every experiment in Redis; `None` when it does not answer.
    pub(super) async fn load(&self) -> Option<Vec<Experiment>> {
        let key = self.key();
        let stored: Vec<String> = self
            .0
            .store
            .run("experiments", |mut connection| async move {
                redis::cmd("HVALS")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        let mut experiments: Vec<Experiment> = stored
            .iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect();
        experiments.sort_by(|a, b| a.id.cmp(&b.id));
        Some(experiments)
    }

    /// Writes `experiment` and takes it in at once (the other gateways within a second).
    pub(super) async fn save(&self, experiment: &Experiment) -> Option<()> {
        let (key, id) = (self.key(), experiment.id.clone());
        let text = serde_json::to_string(experiment).ok()?;
        self.0
            .store
            .run("experiments", |mut connection| async move {
                redis::cmd("HSET")
                    .arg(key)
                    .arg(id)
                    .arg(text)
                    .query_async::<()>(&mut connection)
                    .await
            })
            .await?;
        let mut all: Vec<Arc<Experiment>> = self
            .0
            .all
            .load()
            .iter()
            .filter(|known| known.id != experiment.id)
            .cloned()
            .collect();
        all.push(Arc::new(experiment.clone()));
        self.take_in(all);
        Some(())
    }

    pub(super) fn take_in(&self, all: Vec<Arc<Experiment>>) {
        let running = all
            .iter()
            .any(|experiment| experiment.state == ExperimentState::Running);
        self.0.any.store(running, Ordering::Release);
        self.0.all.store(Arc::new(all));
    }

    /// Deletes experiment `id` and its counts; `Some(false)` if there was none, `None` when
    /// Redis does not answer. The other gateways forget it within a second.
    pub(super) async fn remove(&self, id: &str) -> Option<bool> {
        let key = self.key();
        let pattern = format!("{}*", self.0.store.key(&["experiment", id, ""]));
        let owned = id.to_owned();
        let removed: bool = self
            .0
            .store
            .run("experiments", |mut connection| async move {
                let removed: u64 = redis::cmd("HDEL")
                    .arg(&key)
                    .arg(&owned)
                    .query_async(&mut connection)
                    .await?;
                let mut cursor = 0_u64;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500)
                        .query_async(&mut connection)
                        .await?;
                    if !keys.is_empty() {
                        redis::cmd("UNLINK")
                            .arg(keys)
                            .query_async::<()>(&mut connection)
                            .await?;
                    }
                    if next == 0 {
                        return Ok(removed > 0);
                    }
                    cursor = next;
                }
            })
            .await?;
        let kept = self
            .0
            .all
            .load()
            .iter()
            .filter(|known| known.id != id)
            .cloned()
            .collect();
        self.take_in(kept);
        Some(removed)
    }
}
