use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::time::Instant;

/// When a breaker opens and how it recovers.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Share of failed calls in the window that opens the breaker (0.5 = 50 %).
    pub failure_rate: f64,
    /// How far back calls count.
    pub window: Duration,
    /// Fewest calls in the window before the rate means anything.
    pub minimum_calls: usize,
    /// How long it stays open before letting trial calls through.
    pub open_for: Duration,
    /// Trial calls allowed while half-open.
    pub half_open_trials: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate: 0.5,
            window: Duration::from_secs(10),
            minimum_calls: 5,
            open_for: Duration::from_secs(30),
            half_open_trials: 1,
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are refused at once.
    Open,
    /// A few trial calls decide between closing and opening again.
    HalfOpen,
}

impl BreakerState {
    const ALL: [Self; 3] = [Self::Closed, Self::Open, Self::HalfOpen];

    /// The state's name in metrics' labels.
    pub fn label(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
        }
    }
}

/// Sets `circuit_breaker_state{breaker, state}` as Prometheus writes an enumeration: 1 for the
/// state the breaker is in, 0 for the other two, so that a query selects by state's name.
fn publish_state(breaker: &str, current: BreakerState) {
    for state in BreakerState::ALL {
        metrics::gauge!("circuit_breaker_state", "breaker" => breaker.to_owned(), "state" => state.label())
            .set(if state == current { 1.0 } else { 0.0 });
    }
}

/// A refused call: the breaker is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit open; retry in {retry_after:?}")]
pub struct BreakerOpen {
    /// When a trial call will be let through.
    pub retry_after: Duration,
}

/// Leave to make one call; report how it went with [`Permit::record`]. A permit dropped
/// unreported (the call was abandoned) counts as neither success nor failure, but frees its
/// half-open trial slot.
#[derive(Debug)]
#[must_use = "record the outcome of the call"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    trial: bool,
    recorded: bool,
    /// The breaker's resets when it was given: a call begun before a reset is not counted
    /// after it.
    generation: u64,
}

impl Permit<'_> {
    /// Reports how the permitted call went.
    pub fn record(self, success: bool) {
        self.record_call(success, false);
    }

    /// Reports how the permitted call went, and whether it was slower than the caller's
    /// slow-call limit (a slow call counts as failed too: `success` says so).
    pub fn record_call(mut self, success: bool, slow: bool) {
        self.recorded = true;
        self.breaker
            .record(self.generation, self.trial, success, slow);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.trial {
            let mut inner = self.breaker.lock();
            // A trial begun before a reset is not one of the fresh breaker's.
            if self.breaker.generation.load(Ordering::Acquire) == self.generation {
                inner.trials_in_flight = inner.trials_in_flight.saturating_sub(1);
            }
        }
    }
}

/// A circuit breaker for one target.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    config: BreakerConfig,
    /// Whether the state is closed, readable without the lock: a closed breaker, by far the
    /// most common, lets a call through without taking it.
    closed: AtomicBool,
    /// How many times it was reset.
    generation: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// Calls in the window, counted per tenth of it, so that recording a call costs the
    /// same at any rate.
    window: Window,
    opened_at: Instant,
    trials_in_flight: u32,
    totals: Totals,
    changed_at: Option<SystemTime>,
}

/// The window's buckets, with their sums kept as buckets come and go.
#[derive(Debug, Default)]
struct Window {
    buckets: VecDeque<Bucket>,
    calls: usize,
    failures: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: Instant,
    calls: usize,
    failures: usize,
}

/// Buckets a window is counted in.
const BUCKETS: u32 = 10;

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    calls: u64,
    failures: u64,
    slow: u64,
    rejected: u64,
}

/// What a breaker has seen, for dashboards and metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSnapshot {
    /// The state now.
    pub state: BreakerState,
    /// Calls let through since start.
    pub calls: u64,
    /// Of those, the ones that failed (slow ones included).
    pub failures: u64,
    /// Of those, the ones slower than the slow-call limit (answered or not).
    pub slow: u64,
    /// Calls refused because the breaker was open.
    pub rejected: u64,
    /// Calls in the current window.
    pub window_calls: usize,
    /// Failed calls in the current window.
    pub window_failures: usize,
    /// When the state last changed (`None`: never since start).
    pub changed_at: Option<SystemTime>,
    /// While open, how long until a trial call is let through.
    pub retry_in: Option<Duration>,
}

impl Breaker {
    /// A closed breaker for `name`.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        let name = name.into();
        publish_state(&name, BreakerState::Closed);
        Self {
            name,
            config,
            closed: AtomicBool::new(true),
            generation: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                window: Window::default(),
                opened_at: Instant::now(),
                trials_in_flight: 0,
                totals: Totals::default(),
                changed_at: None,
            }),
        }
    }

    /// The current state (an open breaker past its time reads as half-open).
    pub fn state(&self) -> BreakerState {
        let mut inner = self.lock();
        self.advance(&mut inner);
        inner.state
    }

    /// Closes it and forgets its window, as resilience4j's `reset`: for when what it guards
    /// was replaced (a service's traffic moved to other instances), so that the old ones'
    /// failures do not keep the new ones from being called.
    pub fn reset(&self) {
        let mut inner = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.transition(&mut inner, BreakerState::Closed, Instant::now());
        inner.window = Window::default();
        inner.trials_in_flight = 0;
    }

    /// Whether it is closed, read without its lock (what most calls meet).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Its state and counts.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let mut inner = self.lock();
        self.advance(&mut inner);
        let now = Instant::now();
        self.forget_old(&mut inner, now);
        BreakerSnapshot {
            state: inner.state,
            calls: inner.totals.calls,
            failures: inner.totals.failures,
            slow: inner.totals.slow,
            rejected: inner.totals.rejected,
            window_calls: inner.window.calls,
            window_failures: inner.window.failures,
            changed_at: inner.changed_at,
            retry_in: (inner.state == BreakerState::Open).then(|| {
                self.config
                    .open_for
                    .saturating_sub(inner.opened_at.elapsed())
            }),
        }
    }

    /// Leave to call, or the time until a trial is allowed.
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerOpen> {
        let generation = self.generation.load(Ordering::Acquire);
        let permit = |trial| Permit {
            breaker: self,
            trial,
            recorded: false,
            generation,
        };
        // A call that races with the breaker opening goes through, as one that came just
        // before it would have.
        if self.closed.load(Ordering::Acquire) {
            return Ok(permit(false));
        }
        let mut inner = self.lock();
        self.advance(&mut inner);
        let refused = match inner.state {
            BreakerState::Closed => return Ok(permit(false)),
            BreakerState::HalfOpen if inner.trials_in_flight < self.config.half_open_trials => {
                inner.trials_in_flight += 1;
                return Ok(permit(true));
            }
            BreakerState::HalfOpen => BreakerOpen {
                retry_after: Duration::from_secs(1),
            },
            BreakerState::Open => BreakerOpen {
                retry_after: self
                    .config
                    .open_for
                    .saturating_sub(inner.opened_at.elapsed()),
            },
        };
        inner.totals.rejected += 1;
        Err(refused)
    }

    /// Counts a call permitted at reset `generation`; one begun before the last reset is not
    /// counted. The generation is compared under the lock, which `reset` holds while it moves
    /// it on, so that no call slips in between.
    fn record(&self, generation: u64, trial: bool, success: bool, slow: bool) {
        let mut inner = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        inner.totals.slow += u64::from(slow);
        let now = Instant::now();
        inner.totals.calls += 1;
        inner.totals.failures += u64::from(!success);
        if trial {
            inner.trials_in_flight = inner.trials_in_flight.saturating_sub(1);
            if inner.state == BreakerState::HalfOpen {
                if success {
                    self.transition(&mut inner, BreakerState::Closed, now);
                } else {
                    self.transition(&mut inner, BreakerState::Open, now);
                }
            }
            return;
        }
        if inner.state != BreakerState::Closed {
            return;
        }
        self.forget_old(&mut inner, now);
        let bucket_length = self.config.window / BUCKETS;
        let failure = usize::from(!success);
        let window = &mut inner.window;
        match window.buckets.back_mut() {
            Some(bucket) if now.duration_since(bucket.start) < bucket_length => {
                bucket.calls += 1;
                bucket.failures += failure;
            }
            _ => window.buckets.push_back(Bucket {
                start: now,
                calls: 1,
                failures: failure,
            }),
        }
        window.calls += 1;
        window.failures += failure;
        let (total, failed) = (window.calls, window.failures);
        #[allow(clippy::cast_precision_loss)] // counts are far below 2^52
        let rate = failed as f64 / total.max(1) as f64;
        if total >= self.config.minimum_calls && rate >= self.config.failure_rate {
            self.transition(&mut inner, BreakerState::Open, now);
        }
    }

    fn advance(&self, inner: &mut Inner) {
        if inner.state == BreakerState::Open && inner.opened_at.elapsed() >= self.config.open_for {
            self.transition(inner, BreakerState::HalfOpen, Instant::now());
        }
    }

    fn transition(&self, inner: &mut Inner, to: BreakerState, now: Instant) {
        if inner.state == to {
            return;
        }
        tracing::warn!(breaker = %self.name, from = ?inner.state, to = ?to, "circuit breaker changed state");
        metrics::counter!("circuit_breaker_transitions_total", "breaker" => self.name.clone(), "to" => to.label())
            .increment(1);
        publish_state(&self.name, to);
        inner.state = to;
        self.closed
            .store(to == BreakerState::Closed, Ordering::Release);
        inner.changed_at = Some(SystemTime::now());
        inner.window = Window::default();
        inner.trials_in_flight = 0;
        if to == BreakerState::Open {
            inner.opened_at = now;
        }
    }

    fn forget_old(&self, inner: &mut Inner, now: Instant) {
        let window = &mut inner.window;
        while let Some(bucket) = window.buckets.front().copied()
            && now.duration_since(bucket.start) > self.config.window
        {
            window.buckets.pop_front();
            window.calls -= bucket.calls;
            window.failures -= bucket.failures;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_closes_an_open_breaker_and_forgets_its_window() {
        let breaker = Breaker::new(
            "reset",
            BreakerConfig {
                failure_rate: 0.5,
                window: Duration::from_secs(10),
                minimum_calls: 2,
                open_for: Duration::from_secs(30),
                half_open_trials: 1,
            },
        );
        for _ in 0..2 {
            breaker.try_acquire().expect("closed").record(false);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        breaker.reset();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.snapshot().window_calls, 0);
        breaker.try_acquire().expect("closed again").record(false);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "one failure of a fresh window"
        );
        // A call begun before a reset is not counted after it.
        let before = breaker.try_acquire().expect("closed");
        breaker.reset();
        before.record(false);
        assert_eq!(breaker.snapshot().window_calls, 0);
    }

    #[test]
    fn a_trial_abandoned_after_a_reset_frees_no_trial_of_the_fresh_breaker() {
        let breaker = Breaker::new(
            "trial",
            BreakerConfig {
                failure_rate: 0.5,
                window: Duration::from_secs(10),
                minimum_calls: 2,
                open_for: Duration::from_millis(20),
                half_open_trials: 1,
            },
        );
        let open_then_half_open = || {
            for _ in 0..2 {
                breaker.try_acquire().expect("closed").record(false);
            }
            std::thread::sleep(Duration::from_millis(30));
        };
        open_then_half_open();
        let before = breaker.try_acquire().expect("the trial");
        breaker.reset();
        open_then_half_open();
        let trial = breaker.try_acquire().expect("the fresh breaker's trial");
        drop(before);
        assert!(
            breaker.try_acquire().is_err(),
            "its one trial is still in flight"
        );
        trial.record(true);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    fn breaker() -> Breaker {
        Breaker::new(
            "test",
            BreakerConfig {
                minimum_calls: 4,
                ..BreakerConfig::default()
            },
        )
    }

    fn call(breaker: &Breaker, success: bool) -> bool {
        match breaker.try_acquire() {
            Ok(permit) => {
                permit.record(success);
                true
            }
            Err(_) => false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn it_opens_at_half_failures_once_enough_calls_were_made() {
        let breaker = breaker();
        assert!(call(&breaker, false) && call(&breaker, false) && call(&breaker, true));
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "three calls are below the minimum"
        );
        assert!(call(&breaker, true));
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = breaker.try_acquire().expect_err("open");
        assert_eq!(refused.retry_after, Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn old_failures_fall_out_of_the_window() {
        let breaker = breaker();
        call(&breaker, false);
        call(&breaker, false);
        tokio::time::advance(Duration::from_secs(11)).await;
        for _ in 0..4 {
            call(&breaker, true);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn the_failure_rate_counts_only_the_calls_still_in_the_window() {
        let breaker = breaker();
        for _ in 0..3 {
            call(&breaker, false);
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        call(&breaker, false);
        for _ in 0..3 {
            call(&breaker, true);
        }
        // 1 failure in 4 calls now, not the 4 in 7 of all time.
        assert_eq!(breaker.state(), BreakerState::Closed);
        let snapshot = breaker.snapshot();
        assert_eq!((snapshot.window_calls, snapshot.window_failures), (4, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_open_time_one_trial_decides() {
        let breaker = breaker();
        for _ in 0..4 {
            call(&breaker, false);
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let trial = breaker.try_acquire().expect("one trial");
        assert!(breaker.try_acquire().is_err(), "only one trial at a time");
        trial.record(false);
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed trial reopens it"
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        let abandoned = breaker.try_acquire().expect("another trial");
        drop(abandoned);
        let trial = breaker
            .try_acquire()
            .expect("an abandoned trial frees its slot");
        trial.record(true);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "a good trial closes it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_snapshot_counts_calls_failures_and_refusals() {
        let breaker = breaker();
        call(&breaker, true);
        for _ in 0..3 {
            call(&breaker, false);
        }
        assert!(!call(&breaker, true), "open by now");
        let snapshot = breaker.snapshot();
        assert_eq!(snapshot.state, BreakerState::Open);
        assert_eq!(
            (snapshot.calls, snapshot.failures, snapshot.rejected),
            (4, 3, 1)
        );
        assert_eq!(snapshot.window_calls, 0, "the window restarts on a change");
        assert!(snapshot.changed_at.is_some());
        assert_eq!(snapshot.retry_in, Some(Duration::from_secs(30)));
    }
}
