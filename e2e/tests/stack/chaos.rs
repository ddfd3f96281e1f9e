//! The saga's checker on a short schedule: a minute of randomized orders, moves and faults,
//! then every order's books. `scripts/chaos` runs long ones.

use std::time::Duration;

use e2e::chaos::{self, Schedule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_random_orders_moves_and_faults_leaves_every_order_s_books_right() {
    let seed = rand::random();
    eprintln!("chaos seed {seed}");
    let report = chaos::run(Schedule {
        seed,
        orders: 60,
        duration: Duration::from_secs(60),
        couriers: 40,
        customers: 12,
        settle_limit: Duration::from_secs(180),
    })
    .await;
    eprintln!("{report}");
    assert!(report.is_clean(), "{report}");
    assert!(report.placed >= 30, "most orders were placed: {report}");
    assert!(report.faults >= 5, "faults were injected: {report}");
}
