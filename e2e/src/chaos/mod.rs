//! The saga's checker: a seeded, randomized history played against the real platform
//! through the gateway (orders with every test card; customers cancelling, the kitchen and
//! the courier moving at random moments; participants killed, stopped and started again;
//! the broker cut, shards cut or hung; commands sent twice), then, once everything has
//! settled, every order's books checked against the saga's invariants. A run is told by
//! its seed: the same seed plays the same schedule again.

mod cast;
mod copies;
mod faults;
mod history;
mod life;
mod settle;

use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::{sync::Mutex, task::JoinSet};

use self::{cast::Cast, history::History, life::Plan};
use crate::{
    books::{self, Violation},
    platform::{Options, Platform, wait_until_ready},
};

/// What a run plays.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    /// Orders placed, spread over `duration`.
    pub orders: usize,
    /// How long orders are placed and faults injected.
    pub duration: Duration,
    pub couriers: usize,
    pub customers: usize,
    /// Longest the platform may take to come to rest once the last fault has ended: the
    /// bound within which every saga ends.
    pub settle_limit: Duration,
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    pub schedule: Schedule,
    pub placed: usize,
    /// Orders by final status.
    pub statuses: BTreeMap<String, usize>,
    pub faults: usize,
    /// How long the platform took to come to rest, or what still moved at the limit.
    pub settled: Result<Duration, String>,
    pub violations: Vec<Violation>,
    /// Each violating order's history.
    pub stories: BTreeMap<String, String>,
    pub couriers: Vec<String>,
    /// What else the run has to say (commands sent twice, orders that could not be placed).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether every promise was kept.
    pub fn is_clean(&self) -> bool {
        self.settled.is_ok() && self.violations.is_empty() && self.couriers.is_empty()
    }
}

/// Plays `schedule` on a platform of its own and checks the books.
pub async fn run(schedule: Schedule) -> Report {
    let history = History::new();
    let mut platform = Platform::start(Options {
        broker_proxies: true,
        shard_proxies: true,
        rate_limits: false,
        // Backends come back within seconds: the gateway tries them again after one.
        extra: vec![("gateway", "BREAKER_OPEN_FOR", "1s".into())],
    })
    .await;
    platform.broker.declare(copies::TAP).await;
    let cast = Cast::assemble(&platform, schedule.couriers, schedule.customers).await;
    let mut rng = StdRng::seed_from_u64(schedule.seed);
    let mut plans: Vec<(Duration, usize, Plan)> = (0..schedule.orders)
        .map(|_| {
            let at = rng.gen_range(Duration::ZERO..schedule.duration.max(Duration::from_millis(1)));
            (
                at,
                rng.gen_range(0..schedule.customers.max(1)),
                Plan::draw(&mut rng),
            )
        })
        .collect();
    plans.sort_by_key(|(at, _, _)| *at);
    let (url, topology) = (platform.broker.url.clone(), platform.broker.topology());
    let platform = Arc::new(Mutex::new(platform));
    let until = history.now() + schedule.duration;
    let faults = tokio::spawn(faults::inject(
        platform.clone(),
        rng.r#gen(),
        until,
        history.clone(),
    ));
    let copies = tokio::spawn(copies::duplicate(
        url,
        topology,
        rng.r#gen(),
        8,
        until,
        history.clone(),
    ));
    let mut lives = JoinSet::new();
    let start = history.now();
    for (at, customer, plan) in plans {
        tokio::time::sleep((start + at).saturating_sub(history.now())).await;
        let (cast, history) = (cast.clone(), history.clone());
        lives.spawn(async move {
            let customer = cast.customers[customer].clone();
            life::live(&cast, &customer, plan, &history).await
        });
    }
    let mut placed = 0;
    while let Some(life) = lives.join_next().await {
        placed += usize::from(matches!(life, Ok(Some(_))));
    }
    let _ = faults.await;
    let _ = copies.await;
    let platform = Arc::into_inner(platform)
        .expect("every fault has ended")
        .into_inner();
    for backend in &platform.backends {
        wait_until_ready(backend).await;
    }
    let settled = settle::settle(&platform, schedule.settle_limit).await;
    let all = books::read(&platform).await;
    let mut statuses = BTreeMap::new();
    let mut violations = Vec::new();
    let mut stories = BTreeMap::new();
    for order in &all {
        *statuses.entry(order.status.clone()).or_default() += 1;
        let broken = books::check(order);
        if !broken.is_empty() {
            let id = order.order.to_string();
            stories.insert(id.clone(), format!("{order:?}\n{}", history.story(&id)));
        }
        violations.extend(broken);
    }
    Report {
        schedule,
        placed,
        statuses,
        faults: history.faults_injected(),
        settled,
        violations,
        stories,
        couriers: books::courier_mismatches(&platform).await,
        notes: history.notes(),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schedule = &self.schedule;
        writeln!(
            f,
            "seed {}: {} orders placed of {} over {:?}, {} faults injected",
            schedule.seed, self.placed, schedule.orders, schedule.duration, self.faults
        )?;
        writeln!(f, "final statuses: {:?}", self.statuses)?;
        for note in &self.notes {
            writeln!(f, "  {note}")?;
        }
        match &self.settled {
            Ok(took) => writeln!(f, "at rest {took:?} after the last fault ended")?,
            Err(what) => writeln!(f, "NOT at rest after {:?}: {what}", schedule.settle_limit)?,
        }
        writeln!(f, "violations: {}", self.violations.len())?;
        for violation in &self.violations {
            writeln!(f, "  {violation}")?;
        }
        for mismatch in &self.couriers {
            writeln!(f, "  {mismatch}")?;
        }
        for (order, story) in &self.stories {
            writeln!(f, "history of {order}:\n{story}")?;
        }
        if !self.is_clean() {
            writeln!(
                f,
                "replay with: scripts/chaos --orders {} --duration {}s --seed {}",
                schedule.orders,
                schedule.duration.as_secs(),
                schedule.seed
            )?;
        }
        Ok(())
    }
}
