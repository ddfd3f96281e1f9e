//! `GET /admin/experiments/{id}`: each variant's users, calls, conversion, error rate and
//! latency; the difference on the goal with its interval and p-value; the sample-ratio check;
//! and a verdict, given only once each variant has the sample set in advance.

use hdrhistogram::Histogram;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    model::{Experiment, ExperimentState, Goal},
    stats::{self, Difference, Moments, Proportion, SampleRatio},
    tally::Totals,
};

/// A difference is significant below this p-value.
const ALPHA: f64 = 0.05;

/// An experiment and what it has measured.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentReport {
    pub experiment: Experiment,
    pub variants: Vec<VariantReport>,
    /// The second variant less the first, on the goal's measure (a share, or milliseconds).
    pub comparison: Option<Difference>,
    pub sample_ratio: SampleRatio,
    pub verdict: Verdict,
}

/// One variant's numbers, as every gateway counted them.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantReport {
    pub name: String,
    /// Users whose call was answered (not 5xx) in this variant.
    pub users: u64,
    pub requests: u64,
    /// Exposed users who then reached the conversion goal.
    pub conversions: u64,
    pub conversion: Proportion,
    /// Calls answered 5xx, of all its calls.
    pub error_rate: Proportion,
    pub latency_ms: LatencyReport,
}

/// Latency percentiles and mean, in milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyReport {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
}

/// What the experiment says so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verdict {
    /// `collecting` (the sample is not reached), `winner`, `no-difference`,
    /// `sample-ratio-mismatch` (the split is broken: no winner can be trusted) or `stopped`.
    pub status: &'static str,
    pub winner: Option<String>,
    pub detail: String,
}

#[allow(clippy::cast_precision_loss)]
fn millis(micros: f64) -> f64 {
    (micros / 10.0).round() / 100.0
}

fn latency(histogram: &Histogram<u64>) -> LatencyReport {
    #[allow(clippy::cast_precision_loss)]
    let at = |quantile: f64| millis(histogram.value_at_quantile(quantile) as f64);
    LatencyReport {
        p50: at(0.5),
        p95: at(0.95),
        p99: at(0.99),
        mean: millis(histogram.mean()),
    }
}

fn moments(histogram: &Histogram<u64>) -> Moments {
    let stdev = histogram.stdev() / 1000.0;
    Moments {
        n: histogram.len(),
        mean: histogram.mean() / 1000.0,
        variance: stdev * stdev,
    }
}

/// The report of `experiment` from `totals`.
pub fn report(experiment: Experiment, totals: &Totals) -> ExperimentReport {
    let variants = (0..2)
        .map(|index| VariantReport {
            name: experiment.variants[index].name.clone(),
            users: totals.users[index],
            requests: totals.requests[index],
            conversions: totals.converted[index],
            conversion: stats::proportion(totals.converted[index], totals.users[index]),
            error_rate: stats::proportion(totals.errors[index], totals.requests[index]),
            latency_ms: latency(&totals.latencies[index]),
        })
        .collect();
    let (comparison, sample) = match &experiment.goal {
        Goal::Conversion { .. } => (
            stats::two_proportions(
                totals.converted[0],
                totals.users[0],
                totals.converted[1],
                totals.users[1],
            ),
            totals.users,
        ),
        Goal::ErrorRate => (
            stats::two_proportions(
                totals.errors[0],
                totals.requests[0],
                totals.errors[1],
                totals.requests[1],
            ),
            totals.requests,
        ),
        Goal::Latency => (
            stats::two_means(moments(&totals.latencies[0]), moments(&totals.latencies[1])),
            totals.requests,
        ),
    };
    let sample_ratio = stats::sample_ratio(totals.users, experiment.split);
    let verdict = verdict(&experiment, comparison.as_ref(), sample, &sample_ratio);
    ExperimentReport {
        experiment,
        variants,
        comparison,
        sample_ratio,
        verdict,
    }
}

fn verdict(
    experiment: &Experiment,
    comparison: Option<&Difference>,
    sample: [u64; 2],
    sample_ratio: &SampleRatio,
) -> Verdict {
    if experiment.state == ExperimentState::Stopped {
        return Verdict {
            status: "stopped",
            winner: experiment.winner.clone(),
            detail: "stopped: the route is served as before; the winner is the variant to release"
                .to_owned(),
        };
    }
    let unit = match experiment.goal {
        Goal::Conversion { .. } => "users",
        Goal::Latency | Goal::ErrorRate => "calls",
    };
    if sample.iter().any(|&n| n < experiment.min_sample) {
        return Verdict {
            status: "collecting",
            winner: None,
            detail: format!(
                "{} and {} {unit} of the {} each variant needs",
                sample[0], sample[1], experiment.min_sample
            ),
        };
    }
    if sample_ratio.mismatch {
        return Verdict {
            status: "sample-ratio-mismatch",
            winner: None,
            detail: format!(
                "{:.1} % of users in {} where {} % were expected (p = {:.2e}): the split is broken",
                sample_ratio.observed_percent,
                experiment.variants[1].name,
                sample_ratio.expected_percent,
                sample_ratio.p_value
            ),
        };
    }
    let Some(comparison) = comparison.filter(|c| c.p_value < ALPHA) else {
        return Verdict {
            status: "no-difference",
            winner: None,
            detail: format!("no difference significant at {ALPHA}"),
        };
    };
    let higher_wins = matches!(experiment.goal, Goal::Conversion { .. });
    let second_wins = (comparison.difference > 0.0) == higher_wins;
    let winner = &experiment.variants[usize::from(second_wins)].name;
    Verdict {
        status: "winner",
        winner: Some(winner.clone()),
        detail: format!(
            "{winner} wins: difference {:.4} (95 % interval {:.4} to {:.4}), p = {:.2e}, {}",
            comparison.difference,
            comparison.low,
            comparison.high,
            comparison.p_value,
            comparison.test
        ),
    }
}
