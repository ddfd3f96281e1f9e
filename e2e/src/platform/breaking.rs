//! What a test does to break the platform, and to mend it: binaries stopped, killed and
//! started again, the broker's link cut for one binary or all, a shard cut or hung.

use std::time::Duration;

use shared::testing::TcpProxy;

use super::{Platform, SHARDS, wait_until_ready};
use crate::processes::Process;

impl Platform {
    /// Cuts every binary's link to the broker (with `Options::broker_proxies`).
    pub fn cut_broker(&self) {
        self.broker_proxies.values().for_each(TcpProxy::cut);
    }

    /// Gives every binary its link to the broker back.
    pub fn restore_broker(&self) {
        self.broker_proxies.values().for_each(TcpProxy::restore);
    }

    /// The proxy between binary `name` and the broker.
    pub fn broker_proxy(&self, name: &str) -> &TcpProxy {
        self.broker_proxies
            .get(name)
            .unwrap_or_else(|| panic!("no broker proxy for {name}: start with broker_proxies"))
    }

    /// The proxy in front of shard `name` (`a`, `b`, `c`).
    pub fn shard_proxy(&self, name: &str) -> &TcpProxy {
        let index = SHARDS
            .iter()
            .position(|shard| *shard == name)
            .unwrap_or_else(|| panic!("no shard {name}"));
        self.shard_proxies
            .get(index)
            .unwrap_or_else(|| panic!("no shard proxies: start with shard_proxies"))
    }

    /// Stops backend `name` as an operator would (SIGTERM), waiting up to `limit` for it
    /// to exit cleanly; panics with the end of its log if it does not.
    pub async fn stop(&mut self, name: &str, limit: Duration) {
        if let Err(why) = self.try_stop(name, limit).await {
            panic!("{why}");
        }
    }

    /// Stops backend `name` with SIGTERM, waiting up to `limit` for a clean exit; if it
    /// does not come, kills it and says why, with the end of its log.
    pub async fn try_stop(&mut self, name: &str, limit: Duration) -> Result<(), String> {
        let process = self.backend(name);
        let status = process.stop(limit).await;
        if status.is_some_and(|status| status.success()) {
            return Ok(());
        }
        let tail = process.log_tail();
        process.kill();
        Err(format!(
            "{name} did not stop cleanly within {limit:?} ({status:?}):\n{tail}"
        ))
    }

    /// Starts backend `name` again as it was started first (after a kill).
    pub async fn restart(&mut self, name: &'static str) {
        self.respawn(name);
        wait_until_ready(self.backend(name)).await;
    }

    /// Starts backend `name` again as it was started first, without waiting for it to be
    /// ready (its stores may be away on purpose).
    pub fn respawn(&mut self, name: &'static str) {
        let (port, variables) = self.started[name].clone();
        let process = Process::start(name, port, &variables);
        *self.backend(name) = process;
    }
}
