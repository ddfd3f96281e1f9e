//! `chaos`: plays a seeded, randomized history against the whole platform and checks every
//! order's books afterwards (see `e2e::chaos`). Exits 1 if a promise was broken.

use std::{io::Write, process::ExitCode, time::Duration};

use clap::Parser;
use e2e::chaos::{self, Schedule};

/// Plays a randomized history of orders and faults against the platform, then checks the
/// saga's invariants for every order.
#[derive(Debug, Parser)]
#[command(name = "chaos", version)]
struct Args {
    /// Orders placed over the run.
    #[arg(long, default_value_t = 200)]
    orders: usize,
    /// How long orders are placed and faults injected.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The run's seed (a new one if not given); the same seed plays the same schedule.
    #[arg(long)]
    seed: Option<u64>,
    /// Couriers near the restaurant.
    #[arg(long, default_value_t = 12)]
    couriers: usize,
    /// Customers placing the orders.
    #[arg(long, default_value_t = 20)]
    customers: usize,
    /// Longest the platform may take to come to rest once the last fault has ended.
    #[arg(long, default_value = "3m", value_parser = humantime::parse_duration)]
    settle_limit: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(rand::random);
    let _ = writeln!(std::io::stdout(), "chaos: seed {seed}");
    let report = chaos::run(Schedule {
        seed,
        orders: args.orders,
        duration: args.duration,
        couriers: args.couriers,
        customers: args.customers,
        settle_limit: args.settle_limit,
    })
    .await;
    let _ = writeln!(std::io::stdout(), "{report}");
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
