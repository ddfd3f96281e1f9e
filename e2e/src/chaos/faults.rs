//! The faults a run injects, at moments and for times drawn from its seed: participants
//! killed or stopped and started again, a binary's link to the broker cut, an order shard
//! cut or hung. At most one of each at a time; every one ends before the run settles.

use std::{sync::Arc, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::Mutex;

use super::history::History;
use crate::platform::{BROKERED, Platform, SHARDS};

/// Longest a clean stop may take: the HTTP drain, the messages in hand and the outbox's
/// flush, ten seconds each at most.
const STOP_LIMIT: Duration = Duration::from_secs(40);

/// Binaries a run stops and starts again.
const PARTICIPANTS: [&str; 4] = [
    "order-service",
    "payment-service",
    "delivery-service",
    "tracking-service",
];

/// One fault.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// SIGKILL, as a crash.
    Kill(&'static str),
    /// SIGTERM, as a deployment.
    Stop(&'static str),
    /// The binary's connections to the broker dropped and refused.
    CutBroker(&'static str),
    /// Every binary's.
    CutAllBrokers,
    /// The shard's server gone.
    CutShard(&'static str),
    /// The shard's server hung: nothing passes, nothing is dropped.
    PauseShard(&'static str),
}

impl Fault {
    fn draw(rng: &mut StdRng) -> Self {
        let pick = |rng: &mut StdRng, from: &[&'static str]| from[rng.gen_range(0..from.len())];
        // The saga's participants away are what gives everyone else time to act meanwhile.
        match rng.gen_range(0..10) {
            0 | 1 => Self::Kill(pick(rng, &PARTICIPANTS)),
            2 | 3 => Self::Stop(pick(rng, &PARTICIPANTS)),
            4..=6 => Self::CutBroker(pick(rng, &BROKERED)),
            7 => Self::CutAllBrokers,
            8 => Self::CutShard(pick(rng, &SHARDS)),
            _ => Self::PauseShard(pick(rng, &SHARDS)),
        }
    }

    /// Begins the fault; what went wrong beginning it.
    async fn begin(self, platform: &mut Platform) -> Option<String> {
        match self {
            Self::Kill(name) => platform.backend(name).kill(),
            Self::Stop(name) => return platform.try_stop(name, STOP_LIMIT).await.err(),
            Self::CutBroker(name) => platform.broker_proxy(name).cut(),
            Self::CutAllBrokers => platform.cut_broker(),
            Self::CutShard(name) => platform.shard_proxy(name).cut(),
            Self::PauseShard(name) => platform.shard_proxy(name).pause(),
        }
        None
    }

    fn end(self, platform: &mut Platform) {
        match self {
            Self::Kill(name) | Self::Stop(name) => platform.respawn(name),
            Self::CutBroker(name) => platform.broker_proxy(name).restore(),
            Self::CutAllBrokers => platform.restore_broker(),
            Self::CutShard(name) | Self::PauseShard(name) => platform.shard_proxy(name).restore(),
        }
    }
}

/// Injects faults from `seed` until `until` has passed, one after another with pauses
/// between; returns once the last has ended.
pub async fn inject(platform: Arc<Mutex<Platform>>, seed: u64, until: Duration, history: History) {
    let mut rng = StdRng::seed_from_u64(seed);
    while history.now() < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..2500))).await;
        let fault = Fault::draw(&mut rng);
        let lasting = Duration::from_millis(rng.gen_range(500..8000));
        history.fault(format!("{fault:?} for {lasting:?}"));
        if let Some(trouble) = fault.begin(&mut *platform.lock().await).await {
            history.platform(format!("trouble: {trouble}"));
        }
        tokio::time::sleep(lasting).await;
        fault.end(&mut *platform.lock().await);
        history.platform(format!("end {fault:?}"));
    }
}
