//! The statistics of a comparison of two variants: proportions with Wilson intervals, the
//! difference of two proportions (two-proportion z-test), of two means (Welch's t-test, in its
//! normal approximation for the large samples a verdict waits for), and the sample-ratio
//! check (chi-square goodness of fit, one degree of freedom). The normal distribution is
//! statrs'.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF as _, Normal};
use utoipa::ToSchema;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A sample-ratio p-value under this flags the split as broken (GrowthBook's threshold).
pub const SRM_THRESHOLD: f64 = 0.001;

fn standard_normal_tail(z: f64) -> f64 {
    let normal = Normal::standard();
    2.0 * (1.0 - normal.cdf(z.abs()))
}

/// A share with its 95 % Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Proportion {
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

/// `successes` of `trials`, with its Wilson interval (sound near 0 and 1, unlike Wald's).
#[allow(clippy::cast_precision_loss)]
pub fn proportion(successes: u64, trials: u64) -> Proportion {
    if trials == 0 {
        return Proportion {
            rate: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Proportion {
        rate: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// The second variant's value less the first's, its 95 % interval, and the test's p-value.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Difference {
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    pub p_value: f64,
    /// The test that gave the p-value.
    pub test: &'static str,
}

/// The difference of two proportions: the interval unpooled (Wald), the p-value from the
/// pooled z statistic.
#[allow(clippy::cast_precision_loss)]
pub fn two_proportions(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Difference> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / a, x2 as f64 / b);
    let difference = p2 - p1;
    let spread = (p1 * (1.0 - p1) / a + p2 * (1.0 - p2) / b).sqrt();
    let pooled = (x1 + x2) as f64 / (a + b);
    let pooled_spread = (pooled * (1.0 - pooled) * (1.0 / a + 1.0 / b)).sqrt();
    let p_value = if pooled_spread == 0.0 {
        1.0
    } else {
        standard_normal_tail(difference / pooled_spread)
    };
    Some(Difference {
        difference,
        low: difference - Z95 * spread,
        high: difference + Z95 * spread,
        p_value,
        test: "two-proportion z-test",
    })
}

/// A sample's size, mean and variance.
#[derive(Debug, Clone, Copy)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub variance: f64,
}

/// The difference of two means (Welch's t-test; with the samples a verdict waits for, its
/// t distribution is the normal one).
#[allow(clippy::cast_precision_loss)]
pub fn two_means(first: Moments, second: Moments) -> Option<Difference> {
    if first.n < 2 || second.n < 2 {
        return None;
    }
    let difference = second.mean - first.mean;
    let spread = (first.variance / first.n as f64 + second.variance / second.n as f64).sqrt();
    let p_value = if spread == 0.0 {
        if difference == 0.0 { 1.0 } else { 0.0 }
    } else {
        standard_normal_tail(difference / spread)
    };
    Some(Difference {
        difference,
        low: difference - Z95 * spread,
        high: difference + Z95 * spread,
        p_value,
        test: "Welch's t-test (normal approximation)",
    })
}

/// The sample-ratio check: whether `users` split as `split` percent to the second variant.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SampleRatio {
    /// The share of users expected in the second variant, in percent.
    pub expected_percent: f64,
    /// The share seen, in percent.
    pub observed_percent: f64,
    pub chi_square: f64,
    pub p_value: f64,
    /// Whether the split is broken (p below 0.001): the results cannot be trusted.
    pub mismatch: bool,
}

/// Chi-square goodness of fit of `users` against the expected split, one degree of freedom.
#[allow(clippy::cast_precision_loss)]
pub fn sample_ratio(users: [u64; 2], split: f64) -> SampleRatio {
    let total = (users[0] + users[1]) as f64;
    let expected = [total * (100.0 - split) / 100.0, total * split / 100.0];
    let chi_square: f64 = users
        .iter()
        .zip(expected)
        .filter(|(_, expected)| *expected > 0.0)
        .map(|(&seen, expected)| (seen as f64 - expected).powi(2) / expected)
        .sum();
    // With one degree of freedom, chi-square is a squared standard normal.
    let p_value = if total == 0.0 {
        1.0
    } else {
        standard_normal_tail(chi_square.sqrt())
    };
    SampleRatio {
        expected_percent: split,
        observed_percent: if total == 0.0 {
            0.0
        } else {
            users[1] as f64 * 100.0 / total
        },
        chi_square,
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, within: f64) -> bool {
        (a - b).abs() < within
    }

    #[test]
    fn a_wilson_interval_holds_the_rate_and_stays_within_zero_and_one() {
        let p = proportion(10, 100);
        assert!(close(p.rate, 0.1, 1e-12));
        // Known values for 10 of 100: 0.0552 to 0.1744.
        assert!(
            close(p.low, 0.0552, 1e-3) && close(p.high, 0.1744, 1e-3),
            "{p:?}"
        );
        let none = proportion(0, 20);
        assert!(none.low == 0.0 && none.high > 0.0);
    }

    #[test]
    fn two_proportions_match_the_textbook_z_test() {
        // 200 of 1000 against 250 of 1000: z = 2.68, p = 0.0074.
        let d = two_proportions(200, 1000, 250, 1000).expect("samples");
        assert!(close(d.difference, 0.05, 1e-12));
        assert!(close(d.p_value, 0.0074, 5e-4), "{d:?}");
        assert!(d.low > 0.0 && d.high < 0.1);
        let same = two_proportions(100, 1000, 100, 1000).expect("samples");
        assert!(close(same.p_value, 1.0, 1e-9));
    }

    #[test]
    fn two_means_give_welchs_statistic() {
        let a = Moments {
            n: 400,
            mean: 100.0,
            variance: 400.0,
        };
        let b = Moments {
            n: 400,
            mean: 103.0,
            variance: 400.0,
        };
        // se = sqrt(1 + 1) = 1.414, z = 2.12, p = 0.034.
        let d = two_means(a, b).expect("samples");
        assert!(close(d.p_value, 0.034, 1e-3), "{d:?}");
    }

    #[test]
    fn an_even_split_passes_the_sample_ratio_check_and_a_skewed_one_is_flagged() {
        let fine = sample_ratio([1010, 990], 50.0);
        assert!(!fine.mismatch && fine.p_value > 0.5, "{fine:?}");
        // 1100 against 900 of an expected 1000 each: chi-square 20, p = 7.7e-6.
        let skewed = sample_ratio([1100, 900], 50.0);
        assert!(close(skewed.chi_square, 20.0, 1e-9));
        assert!(skewed.mismatch && skewed.p_value < 1e-5, "{skewed:?}");
        let uneven_by_design = sample_ratio([700, 300], 30.0);
        assert!(!uneven_by_design.mismatch);
    }
}
