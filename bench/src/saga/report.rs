//! The run's figures.

use std::{collections::BTreeMap, fmt, time::Duration};

use super::Sample;

/// Throughput, latencies and outcomes of one measured run.
#[derive(Debug, Clone)]
pub struct Report {
    pub concurrency: usize,
    pub elapsed: Duration,
    pub ended: usize,
    pub orders_per_second: f64,
    /// `POST /orders` to the order's end.
    pub end_p50: Duration,
    pub end_p90: Duration,
    pub end_p99: Duration,
    pub end_max: Duration,
    /// `POST /orders` alone.
    pub place_p50: Duration,
    pub place_p99: Duration,
    pub outcomes: BTreeMap<String, usize>,
    pub errors: BTreeMap<String, usize>,
}

impl Report {
    pub fn of(samples: Vec<Sample>, elapsed: Duration, concurrency: usize) -> Self {
        let mut ends = Vec::new();
        let mut places: Vec<Duration> = samples.iter().map(|sample| sample.placed_in).collect();
        let mut outcomes = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for sample in samples {
            match sample.outcome {
                Ok((kind, took)) => {
                    ends.push(took);
                    *outcomes.entry(kind).or_default() += 1;
                }
                Err(err) => {
                    let kind: String = err
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(60)
                        .collect();
                    *errors.entry(kind).or_default() += 1;
                }
            }
        }
        ends.sort_unstable();
        places.sort_unstable();
        #[allow(clippy::cast_precision_loss)] // a run ends far fewer than 2^52 orders
        let orders_per_second = ends.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
        Self {
            concurrency,
            elapsed,
            ended: ends.len(),
            orders_per_second,
            end_p50: percentile(&ends, 50.0),
            end_p90: percentile(&ends, 90.0),
            end_p99: percentile(&ends, 99.0),
            end_max: ends.last().copied().unwrap_or_default(),
            place_p50: percentile(&places, 50.0),
            place_p99: percentile(&places, 99.0),
            outcomes,
            errors,
        }
    }
}

/// The value below which `p` percent of the sorted `values` lie (nearest rank).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |duration: Duration| format!("{:.0} ms", duration.as_secs_f64() * 1000.0);
        writeln!(f, "orders in flight      {}", self.concurrency)?;
        writeln!(
            f,
            "measured              {:.1} s, {} orders ended",
            self.elapsed.as_secs_f64(),
            self.ended
        )?;
        writeln!(
            f,
            "throughput            {:.1} orders/s through the whole saga",
            self.orders_per_second
        )?;
        writeln!(
            f,
            "POST to end           p50 {}  p90 {}  p99 {}  max {}",
            ms(self.end_p50),
            ms(self.end_p90),
            ms(self.end_p99),
            ms(self.end_max)
        )?;
        writeln!(
            f,
            "POST /orders alone    p50 {}  p99 {}",
            ms(self.place_p50),
            ms(self.place_p99)
        )?;
        writeln!(f, "outcomes              {:?}", self.outcomes)?;
        write!(f, "errors                {:?}", self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }
}
