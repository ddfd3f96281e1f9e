//! One instance of a backend as the balancer sees it: where it is, its connections, its own
//! breaker, its load (requests in flight and a moving average of its latency), its counts and
//! its ejections.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use serde::Serialize;
use shared::{registry::Instance, resilience::Breaker};
use tokio::time::Instant;
use utoipa::ToSchema;

use crate::{
    origin::Origin,
    outlier::{Ejections, OutlierArgs},
};
use gateway_net::client::OriginPool;

/// Weight of each call's latency in the moving average.
const WEIGHT: f64 = 0.3;

/// How fast an instance's latency estimate fades while it gets no calls (it is divided by
/// e every `FADE`), so that one passed over for a slow spell is soon tried again.
const FADE: Duration = Duration::from_secs(2);

/// One instance of a backend.
#[derive(Debug)]
pub struct Endpoint {
    /// The service it is an instance of.
    pub service: &'static str,
    /// The registered instance; `None` for the configured URL.
    pub instance: Option<Instance>,
    /// Its URL.
    pub url: String,
    pub origin: Origin,
    pub pool: OriginPool,
    /// Its own breaker; the configured URL has none, its service's breaker is its own.
    pub breaker: Option<Breaker>,
    in_flight: AtomicU32,
    latency: Mutex<Latency>,
    requests: AtomicU64,
    failures: AtomicU64,
    consecutive_failures: AtomicU32,
    ejections: Mutex<Ejections>,
}

/// Its calls' latency: a moving average per call (so that it follows as fast at any rate),
/// fading with the time since the last call as tower's `PeakEwma` does, and every call's in
/// a histogram (microseconds), from which a deployment reads the p99 since its switch.
#[derive(Debug, Clone)]
struct Latency {
    /// In seconds; zero before the first call, so that a new instance is tried soon.
    average: f64,
    at: Instant,
    histogram: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            average: 0.0,
            at: Instant::now(),
            histogram: latency_histogram(),
        }
    }
}

/// An empty histogram of latencies in microseconds: 1 µs to an hour, two significant
/// digits (a few kilobytes).
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 2)
        .unwrap_or_else(|_| unreachable!("the bounds are valid"))
}

/// What an endpoint's calls came to so far: counts and the latency histogram.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub requests: u64,
    pub failures: u64,
    /// Microseconds.
    pub latencies: Histogram<u64>,
}

impl Endpoint {
    /// An instance at `origin`, with `pool` its connections.
    pub fn new(
        service: &'static str,
        instance: Option<Instance>,
        url: String,
        origin: Origin,
        pool: OriginPool,
        breaker: Option<Breaker>,
    ) -> Self {
        Self {
            service,
            instance,
            url,
            origin,
            pool,
            breaker,
            in_flight: AtomicU32::new(0),
            latency: Mutex::default(),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejections: Mutex::new(Ejections::default()),
        }
    }

    /// The registered id, or `configured`.
    pub fn id(&self) -> &str {
        self.instance
            .as_ref()
            .map_or("configured", |instance| instance.id.as_str())
    }

    /// What balancing weighs: the latency estimate times the requests it would then have.
    pub fn cost(&self) -> f64 {
        let (average, at) = {
            let latency = lock(&self.latency);
            (latency.average, latency.at)
        };
        let since = Instant::now().saturating_duration_since(at).as_secs_f64();
        let latency = average * (-since / FADE.as_secs_f64()).exp();
        latency * f64::from(self.in_flight.load(Ordering::Relaxed) + 1)
    }

    /// Its calls in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the returned guard drops.
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Whether it is ejected at `now`.
    pub fn ejected(&self, now: Instant) -> bool {
        lock(&self.ejections).ejected_at(now)
    }

    /// Whether its own breaker refuses calls (half-open ones may be let through).
    pub fn breaker_open(&self) -> bool {
        self.breaker.as_ref().is_some_and(|breaker| {
            !breaker.is_closed() && breaker.state() == shared::resilience::BreakerState::Open
        })
    }

    /// Records a call that took `elapsed`. A failure that completes a run of them asks
    /// `may_eject` whether the pool can spare this instance, and if so ejects it.
    pub fn record(
        &self,
        success: bool,
        elapsed: Duration,
        args: &OutlierArgs,
        may_eject: impl FnOnce() -> bool,
    ) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.observe(elapsed);
        if success {
            if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
                self.consecutive_failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        self.failures.fetch_add(1, Ordering::Relaxed);
        let run = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if args.outlier_consecutive_failures == 0 || run < args.outlier_consecutive_failures {
            return;
        }
        let now = Instant::now();
        if self.ejected(now) || !may_eject() {
            return;
        }
        let length = lock(&self.ejections).eject(now, args);
        self.consecutive_failures.store(0, Ordering::Relaxed);
        metrics::counter!("gateway_outlier_ejections_total", "service" => self.service)
            .increment(1);
        tracing::warn!(service = self.service, instance = self.id(), url = %self.url, failures = run, ejected_for = ?length, "instance ejected from balancing");
    }

    fn observe(&self, elapsed: Duration) {
        let mut latency = lock(&self.latency);
        let sample = elapsed.as_secs_f64();
        latency.average = if latency.average == 0.0 {
            sample
        } else {
            latency.average * (1.0 - WEIGHT) + sample * WEIGHT
        };
        latency.at = Instant::now();
        latency
            .histogram
            .saturating_record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Its calls so far. The latencies are copied, so that a reader subtracts an earlier
    /// record to learn what came since.
    pub fn calls(&self) -> CallRecord {
        let latencies = lock(&self.latency).histogram.clone();
        CallRecord {
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            latencies,
        }
    }

    /// What `/admin/registry` and the statistics show of it.
    pub fn health(&self) -> EndpointHealth {
        let now = Instant::now();
        let ejections = *lock(&self.ejections);
        let breaker = self.breaker.as_ref().map(|breaker| breaker.snapshot());
        let state = if ejections.ejected_at(now) {
            "ejected"
        } else {
            match breaker.as_ref().map(|snapshot| snapshot.state) {
                Some(shared::resilience::BreakerState::Open) => "breaker-open",
                Some(shared::resilience::BreakerState::HalfOpen) => "breaker-half-open",
                _ => "healthy",
            }
        };
        EndpointHealth {
            state,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            latency_ewma_ms: (lock(&self.latency).average * 1e4).round() / 10.0,
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            consecutive_failures: self.consecutive_failures.load(Ordering::Relaxed),
            ejections: ejections.total,
            ejected_for_ms: ejections
                .until
                .filter(|until| *until > now)
                .map(|until| u64::try_from((until - now).as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// An instance's health as the gateway sees it from its calls.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointHealth {
    /// `healthy`, `ejected`, `breaker-open` or `breaker-half-open`.
    pub state: &'static str,
    pub in_flight: u32,
    /// The moving average of its latency, in milliseconds.
    pub latency_ewma_ms: f64,
    /// Calls since it joined, and how many failed (5xx, unreachable, time-out).
    pub requests: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    /// Ejections since it joined.
    pub ejections: u64,
    /// While ejected: how long until it is back.
    pub ejected_for_ms: Option<u64>,
}

/// A request in flight to an endpoint, counted until dropped.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Endpoint);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
