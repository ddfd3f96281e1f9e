//! Which instance of a backend a call goes to: power of two choices, as Linkerd and Envoy
//! balance. Two routed instances are drawn at random and the cheaper one (latency estimate
//! times requests in flight, plus one) is called, unless they cost about the same, when the
//! first drawn is: noise in latency then does not send every call to one instance. Ejected
//! instances and open breakers are passed over.
//!
//! Hand-written rather than tower's `p2c::Balance`: that one is a service called through
//! `&mut self`, so sharing it between the serving threads would put a buffer task and its
//! channels back into every call, which this gateway's proxy path was rewritten to avoid.
//! Here the pool is an immutable list swapped whole when the registry changes (`arc-swap`),
//! and each instance's load lives in its own atomics.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use arc_swap::{ArcSwap, Guard};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use shared::{
    registry::Instance,
    resilience::{Breaker, BreakerConfig},
};
use tokio::time::Instant;
use utoipa::ToSchema;

use crate::{endpoint::Endpoint, origin::Origin, outlier::OutlierArgs};
use gateway_net::client::OriginPool;

/// Which registered instances a call may go to: those of a colour, of a version, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Selector {
    /// Whether `instance` is one of those it selects.
    pub fn matches(&self, instance: &Instance) -> bool {
        self.colour
            .as_ref()
            .is_none_or(|colour| *colour == instance.colour)
            && self
                .version
                .as_ref()
                .is_none_or(|version| *version == instance.version)
    }
}

/// How much dearer the first drawn instance must be for the second to be chosen instead.
const TIE: f64 = 1.25;

/// The instances of one backend and the choice between them.
#[derive(Debug)]
pub struct Balancer {
    service: &'static str,
    /// The configured URL, called while no instance is registered.
    configured: Arc<Endpoint>,
    pool: ArcSwap<Pool>,
    /// Whether the pool holds registered instances, read without loading it.
    by_instance: AtomicBool,
    /// Connections by address, kept for an instance that comes back at the same address.
    connections: Mutex<HashMap<String, OriginPool>>,
    breaker: BreakerConfig,
    outlier: OutlierArgs,
}

/// The instances known at one time.
#[derive(Debug)]
pub struct Pool {
    /// Every instance, routed or not.
    pub all: Vec<Arc<Endpoint>>,
    /// Those that take traffic: the live colour's.
    pub routed: Vec<Arc<Endpoint>>,
}

impl Balancer {
    /// A balancer calling `origin` (the configured URL) until instances are registered.
    pub fn new(
        service: &'static str,
        url: &str,
        origin: Origin,
        breaker: BreakerConfig,
        outlier: OutlierArgs,
    ) -> Self {
        let pool = OriginPool::new(origin.address());
        let connections = HashMap::from([(origin.address().to_owned(), pool.clone())]);
        let configured = Arc::new(Endpoint::new(
            service,
            None,
            url.to_owned(),
            origin,
            pool,
            None,
        ));
        Self {
            service,
            pool: ArcSwap::from_pointee(Pool {
                all: vec![configured.clone()],
                routed: vec![configured.clone()],
            }),
            configured,
            by_instance: AtomicBool::new(false),
            connections: Mutex::new(connections),
            breaker,
            outlier,
        }
    }

    /// The instances as they stand.
    pub fn pool(&self) -> Guard<Arc<Pool>> {
        self.pool.load()
    }

    /// Whether calls go to registered instances (each with its own breaker) rather than to
    /// the configured URL.
    pub fn by_instance(&self) -> bool {
        self.by_instance.load(Ordering::Acquire)
    }

    /// The configured URL's endpoint.
    pub fn configured(&self) -> &Endpoint {
        &self.configured
    }

    /// The instance for the next call, other than `avoid` (the one a retry follows) where
    /// another can be had; with `only`, one of those it selects (of any colour), if any is
    /// registered.
    pub fn pick(&self, avoid: Option<&Endpoint>, only: Option<&Selector>) -> Arc<Endpoint> {
        let pool = self.pool.load();
        let selected: Vec<Arc<Endpoint>>;
        let routed = match only {
            Some(selector) => {
                selected = pool
                    .all
                    .iter()
                    .filter(|e| e.instance.as_ref().is_some_and(|i| selector.matches(i)))
                    .cloned()
                    .collect();
                if selected.is_empty() {
                    &pool.routed
                } else {
                    &selected
                }
            }
            None => &pool.routed,
        };
        choose(routed, avoid)
    }

    /// Records a call to `endpoint`, ejecting it after a run of failures if the pool can
    /// spare it.
    pub fn record(&self, endpoint: &Endpoint, success: bool, elapsed: Duration) {
        endpoint.record(success, elapsed, &self.outlier, || {
            let pool = self.pool.load();
            let now = Instant::now();
            let out = pool.routed.iter().filter(|e| e.ejected(now)).count();
            out < self.outlier.max_ejected(pool.routed.len())
        });
    }

    /// Takes in the registry's instances of this service; `live` is the colour that takes
    /// traffic (all of them do while none has it). No instance: the configured URL.
    pub fn update(&self, instances: &[Instance], live: &str) {
        let current = self.pool.load();
        let all: Vec<Arc<Endpoint>> = instances
            .iter()
            .filter_map(|instance| {
                current
                    .all
                    .iter()
                    .find(|known| known.instance.as_ref() == Some(instance))
                    .cloned()
                    .or_else(|| self.endpoint(instance))
            })
            .collect();
        let next = if all.is_empty() {
            Pool {
                all: vec![self.configured.clone()],
                routed: vec![self.configured.clone()],
            }
        } else {
            let live_ones: Vec<_> = all
                .iter()
                .filter(|e| e.instance.as_ref().is_some_and(|i| i.colour == live))
                .cloned()
                .collect();
            let routed = if live_ones.is_empty() {
                all.clone()
            } else {
                live_ones
            };
            Pool { all, routed }
        };
        let same = |a: &[Arc<Endpoint>], b: &[Arc<Endpoint>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
        };
        if !(same(&next.all, &current.all) && same(&next.routed, &current.routed)) {
            tracing::info!(
                service = self.service,
                instances = next.all.len(),
                routed = next.routed.len(),
                "instances changed"
            );
            let by_instance = next.routed[0].instance.is_some();
            self.pool.store(Arc::new(next));
            self.by_instance.store(by_instance, Ordering::Release);
        }
    }

    fn endpoint(&self, instance: &Instance) -> Option<Arc<Endpoint>> {
        let Some(origin) = Origin::parse(&instance.url) else {
            tracing::warn!(service = self.service, instance = %instance.id, url = %instance.url, "a registered instance's URL is not http://; passed over");
            return None;
        };
        let pool = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(origin.address().to_owned())
            .or_insert_with(|| OriginPool::new(origin.address()))
            .clone();
        let breaker = Breaker::new(format!("{}@{}", self.service, instance.url), self.breaker);
        Some(Arc::new(Endpoint::new(
            self.service,
            Some(instance.clone()),
            instance.url.clone(),
            origin,
            pool,
            Some(breaker),
        )))
    }
}

/// Power of two choices among `routed`, passing over `avoid` where another can be had.
fn choose(routed: &[Arc<Endpoint>], avoid: Option<&Endpoint>) -> Arc<Endpoint> {
    if let [only] = routed {
        return only.clone();
    }
    let now = Instant::now();
    let avoided = |endpoint: &Endpoint| avoid.is_some_and(|avoid| std::ptr::eq(avoid, endpoint));
    let usable = |endpoint: &Endpoint| {
        !avoided(endpoint) && !endpoint.ejected(now) && !endpoint.breaker_open()
    };
    let mut rng = rand::thread_rng();
    let first = rng.gen_range(0..routed.len());
    let mut second = rng.gen_range(0..routed.len() - 1);
    if second >= first {
        second += 1;
    }
    let (a, b) = (&routed[first], &routed[second]);
    match (usable(a), usable(b)) {
        (true, true) if b.cost() * TIE < a.cost() => return b.clone(),
        (true, _) => return a.clone(),
        (false, true) => return b.clone(),
        (false, false) => {}
    }
    // Neither drawn one will do: the first that does from a random start, then one the
    // retry meant to avoid, then (every instance out, as Envoy's panic mode) any whose
    // breaker lets it through.
    let start = rng.gen_range(0..routed.len());
    let in_turn = || routed.iter().cycle().skip(start).take(routed.len());
    in_turn()
        .find(|endpoint| usable(endpoint))
        .or_else(|| in_turn().find(|e| !e.ejected(now) && !e.breaker_open()))
        .or_else(|| in_turn().find(|endpoint| !endpoint.breaker_open()))
        .unwrap_or(a)
        .clone()
}

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;
