//! Reloading the certificates when their files change, as Caddy does: the files are read
//! every interval and compared with what was last read, so that a renewal (certbot, a
//! Kubernetes secret's update) is served without a restart.
//!
//! Read and compared rather than watched with inotify: a secret mounted in a container is
//! replaced by a symbolic link's swap, which file watchers miss, and a few kilobytes read
//! every couple of seconds cost nothing.

use std::time::Duration;

use super::{Certificates, files::Contents};

/// Reads `certificates`' files every `interval` and reloads them when any changed; runs
/// until dropped. A change that does not load (a key written after its certificate, say)
/// leaves the certificates served so far, and is tried again at the next change.
pub async fn watch_files(certificates: Certificates, interval: Duration) {
    let mut last = certificates.contents();
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let files = certificates.files().to_vec();
        let Ok(now) = tokio::task::spawn_blocking(move || Contents::read(&files)).await else {
            continue;
        };
        if now == last {
            continue;
        }
        last = now.clone();
        match certificates.reload_from(now) {
            Ok(()) => tracing::info!(names = ?certificates.names(), "certificates reloaded"),
            Err(err) => {
                tracing::error!(error = %err, "changed certificates not loaded; serving the previous ones");
            }
        }
    }
}
