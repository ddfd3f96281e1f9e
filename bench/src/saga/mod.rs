//! `bench-saga`: orders per second through the whole order saga at a fixed concurrency, and
//! the time from `POST /orders` to the order's end, read from the `order.*` events on the
//! broker rather than by polling (which would add load of its own).

mod report;
mod setup;
mod watch;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Parser;
use tokio::task::JoinSet;

pub use self::report::Report;
use self::{setup::Fixture, watch::Endings};

/// What to measure against.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench-saga",
    version,
    about = "Orders per second through the order saga, and the time each takes to end."
)]
pub struct Args {
    /// The gateway.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub gateway: String,
    /// The broker the platform uses, and its names' prefix.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
    #[arg(long, default_value = "")]
    pub amqp_prefix: String,
    /// delivery-service's database, where the couriers are seeded.
    #[arg(long, required_unless_present = "remove_namespace", default_value = "")]
    pub delivery_database_url: String,
    /// The administrator auth-service creates at start.
    #[arg(long, required_unless_present = "remove_namespace", default_value = "")]
    pub admin_email: String,
    #[arg(long, required_unless_present = "remove_namespace", default_value = "")]
    pub admin_password: String,
    /// Only remove the exchanges and queues under `--amqp-prefix` (once the platform has
    /// stopped), and exit.
    #[arg(long)]
    pub remove_namespace: bool,
    /// Orders in flight at once: each client places its next order when its last one ends.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub warm_up: Duration,
    /// Customers ordering (each order is one customer's).
    #[arg(long, default_value_t = 50)]
    pub customers: usize,
    /// Couriers seeded, free: more than the orders the run confirms.
    #[arg(long, default_value_t = 20_000)]
    pub couriers: usize,
}

/// Longest an order may take to end before it counts as lost.
const ORDER_LIMIT: Duration = Duration::from_secs(30);

/// Removes the exchanges and queues of the run's namespace, whose services retried after
/// the default delays.
pub fn remove_namespace(args: &Args) {
    let delays = messaging::RetryDelays([1, 5, 30].map(Duration::from_secs).to_vec());
    let mut namespace = messaging::testing::TestBroker::with_prefix(&args.amqp_prefix, delays);
    namespace.url = args.amqp_url.clone();
    drop(namespace);
}

/// Sets up, warms up, measures; returns what was measured.
pub async fn run(args: Args) -> Result<Report, String> {
    let fixture = Fixture::prepare(&args).await?;
    let endings = Endings::watch(&args).await?;
    let fixture = Arc::new(fixture);
    eprintln!(
        "bench-saga: warming up for {}",
        humantime::format_duration(args.warm_up)
    );
    drive(&args, &fixture, &endings, args.warm_up).await;
    eprintln!(
        "bench-saga: measuring {} orders in flight for {}",
        args.concurrency,
        humantime::format_duration(args.duration)
    );
    let started = Instant::now();
    let samples = drive(&args, &fixture, &endings, args.duration).await;
    Ok(Report::of(samples, started.elapsed(), args.concurrency))
}

/// One order: how long its `POST` took, how long until it ended, and how.
#[derive(Debug, Clone)]
pub struct Sample {
    pub placed_in: Duration,
    pub outcome: Result<(String, Duration), String>,
}

/// Runs `concurrency` clients for `duration`; every sample of the orders placed then.
async fn drive(
    args: &Args,
    fixture: &Arc<Fixture>,
    endings: &Endings,
    duration: Duration,
) -> Vec<Sample> {
    let deadline = Instant::now() + duration;
    let mut clients = JoinSet::new();
    for client in 0..args.concurrency {
        let (fixture, endings) = (fixture.clone(), endings.clone());
        clients.spawn(async move {
            let mut samples = Vec::new();
            let mut n = client;
            while Instant::now() < deadline {
                samples.push(one_order(&fixture, &endings, n).await);
                n += 1;
            }
            samples
        });
    }
    let mut samples = Vec::new();
    while let Some(done) = clients.join_next().await {
        samples.extend(done.unwrap_or_default());
    }
    samples
}

async fn one_order(fixture: &Fixture, endings: &Endings, n: usize) -> Sample {
    let started = Instant::now();
    let placed = fixture.place(n).await;
    let placed_in = started.elapsed();
    let outcome = match placed {
        Ok(order) => endings
            .wait(&order, ORDER_LIMIT)
            .await
            .map(|(kind, at)| (kind, at.saturating_duration_since(started))),
        Err(err) => Err(err),
    };
    Sample { placed_in, outcome }
}
