//! Outlier detection, as Envoy's: an instance whose calls fail a number of times in a row is
//! taken out of balancing for the base ejection time times the number of its ejections (at
//! most the maximum), while no more than a set share of the pool is out at once. It comes back
//! when its time is up, and its count of ejections falls by one for every base ejection time
//! it then stays in, so that a flapping instance stays out longer each time and a recovered
//! one is forgiven.

use std::time::Duration;

use clap::Args;
use tokio::time::Instant;

/// When an instance is taken out of balancing, and for how long.
#[derive(Debug, Clone, Args)]
pub struct OutlierArgs {
    /// Failed calls in a row (5xx, unreachable, time-out) that eject an instance (0: never).
    #[arg(long, env = "OUTLIER_CONSECUTIVE_FAILURES", default_value_t = 5)]
    pub outlier_consecutive_failures: u32,
    /// How long a first ejection lasts; each further one lasts this much longer.
    #[arg(long, env = "OUTLIER_BASE_EJECTION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub outlier_base_ejection: Duration,
    /// The longest an ejection lasts.
    #[arg(long, env = "OUTLIER_MAX_EJECTION", default_value = "300s", value_parser = humantime::parse_duration)]
    pub outlier_max_ejection: Duration,
    /// The largest share of a service's instances out at once, in percent (rounded down: a
    /// lone instance is never ejected, its breaker guards it).
    #[arg(long, env = "OUTLIER_MAX_EJECTED_PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub outlier_max_ejected_percent: u8,
}

impl OutlierArgs {
    /// How many of `pool` instances may be out at once.
    pub fn max_ejected(&self, pool: usize) -> usize {
        pool * usize::from(self.outlier_max_ejected_percent) / 100
    }
}

/// One instance's ejection history.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ejections {
    /// The multiplier of the next ejection's length, less one.
    count: u32,
    /// Ejections since start.
    pub total: u64,
    /// Until when the current ejection lasts.
    pub until: Option<Instant>,
}

impl Ejections {
    /// Ejects now: the ejection's length, grown with recent ejections and capped.
    pub fn eject(&mut self, now: Instant, args: &OutlierArgs) -> Duration {
        if let Some(returned) = self.until.take() {
            // Forgiven one ejection per base time spent back in the pool.
            let healthy = now.saturating_duration_since(returned);
            let forgiven = healthy.as_nanos() / args.outlier_base_ejection.as_nanos().max(1);
            self.count = self
                .count
                .saturating_sub(u32::try_from(forgiven).unwrap_or(u32::MAX));
        }
        self.count = self.count.saturating_add(1);
        self.total += 1;
        let length = args
            .outlier_base_ejection
            .saturating_mul(self.count)
            .min(args.outlier_max_ejection);
        self.until = Some(now + length);
        length
    }

    /// Whether the ejection still lasts at `now`.
    pub fn ejected_at(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> OutlierArgs {
        OutlierArgs {
            outlier_consecutive_failures: 5,
            outlier_base_ejection: Duration::from_secs(30),
            outlier_max_ejection: Duration::from_secs(100),
            outlier_max_ejected_percent: 50,
        }
    }

    #[test]
    fn each_ejection_lasts_longer_up_to_the_maximum() {
        let args = args();
        let mut ejections = Ejections::default();
        let start = Instant::now();
        let first = ejections.eject(start, &args);
        assert_eq!(first, Duration::from_secs(30));
        assert!(ejections.ejected_at(start + Duration::from_secs(29)));
        assert!(!ejections.ejected_at(start + Duration::from_secs(30)));
        // Back at 30 s and ejected again 1 s later: no time to be forgiven.
        let second = ejections.eject(start + Duration::from_secs(31), &args);
        assert_eq!(second, Duration::from_secs(60));
        let third = ejections.eject(start + Duration::from_secs(92), &args);
        assert_eq!(third, Duration::from_secs(90));
        let fourth = ejections.eject(start + Duration::from_secs(183), &args);
        assert_eq!(fourth, Duration::from_secs(100), "capped at the maximum");
        assert_eq!(ejections.total, 4);
    }

    #[test]
    fn time_back_in_the_pool_forgives_ejections() {
        let args = args();
        let mut ejections = Ejections::default();
        let start = Instant::now();
        ejections.eject(start, &args);
        ejections.eject(start + Duration::from_secs(31), &args);
        // Out until 91 s, then two base times (60 s) back in: both forgiven.
        let after_rest = ejections.eject(start + Duration::from_secs(151), &args);
        assert_eq!(after_rest, Duration::from_secs(30));
    }

    #[test]
    fn at_most_the_share_of_the_pool_is_out_and_a_lone_instance_never() {
        let args = args();
        assert_eq!(args.max_ejected(1), 0);
        assert_eq!(args.max_ejected(2), 1);
        assert_eq!(args.max_ejected(5), 2);
    }
}
