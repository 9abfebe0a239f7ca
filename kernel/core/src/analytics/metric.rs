//! The metrics the analytics speak of: the five sums and the seven KPIs, with the formulas of
//! `kpi.rs` (so a trend point equals the QueryMetrics row of the same bucket, bit for bit) and
//! what a ratio is made of, for rate/mix attribution and count-aware intervals.

use super::AnalyticsError;

/// Index of each measure in a `[i64; 5]` of sums (the order of `MEASURE_COLUMNS`).
pub const IMPRESSIONS: usize = 0;
pub const CLICKS: usize = 1;
pub const COST: usize = 2;
pub const CONVERSIONS: usize = 3;
pub const REVENUE: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Impressions,
    Clicks,
    Cost,
    Conversions,
    Revenue,
    Ctr,
    Cpc,
    Cpm,
    Cvr,
    Cpa,
    Roas,
    Roi,
    /// Revenue per conversion (average order value): what detection judges revenue by beside
    /// revenue itself, since a change of order values hides in the noise of the order count.
    Aov,
}

pub const METRIC_NAMES: [&str; 13] = [
    "impressions",
    "clicks",
    "cost",
    "conversions",
    "revenue",
    "ctr",
    "cpc",
    "cpm",
    "cvr",
    "cpa",
    "roas",
    "roi",
    "aov",
];

const ALL: [Metric; 13] = [
    Metric::Impressions,
    Metric::Clicks,
    Metric::Cost,
    Metric::Conversions,
    Metric::Revenue,
    Metric::Ctr,
    Metric::Cpc,
    Metric::Cpm,
    Metric::Cvr,
    Metric::Cpa,
    Metric::Roas,
    Metric::Roi,
    Metric::Aov,
];

impl Metric {
    pub fn parse(name: &str) -> Result<Metric, AnalyticsError> {
        METRIC_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| ALL[i])
            .ok_or_else(|| {
                AnalyticsError(format!(
                    "unknown metric '{name}' (expected one of {})",
                    METRIC_NAMES.join(", ")
                ))
            })
    }

    pub fn name(self) -> &'static str {
        METRIC_NAMES[self as usize]
    }

    /// A sum of one measure (as opposed to a ratio of sums).
    pub fn is_additive(self) -> bool {
        (self as usize) < 5
    }

    /// The measure an additive metric sums.
    pub fn measure(self) -> Option<usize> {
        self.is_additive().then_some(self as usize)
    }

    /// Built on cost or revenue, so unknown when money spans currencies.
    pub fn is_money(self) -> bool {
        !matches!(
            self,
            Metric::Impressions | Metric::Clicks | Metric::Conversions | Metric::Ctr | Metric::Cvr
        )
    }

    /// Whole counts (Poisson-like noise): impressions, clicks, conversions.
    pub fn is_count(self) -> bool {
        matches!(
            self,
            Metric::Impressions | Metric::Clicks | Metric::Conversions
        )
    }

    /// Sums whose micros the metric is made of are divided by a million to give units.
    fn unit(measure: usize) -> f64 {
        if measure >= COST {
            1e6
        } else {
            1.0
        }
    }

    /// The metric's value from sums, null (None) where a denominator is zero; ratios use the
    /// exact float formulas of `kpi::kpi_columns`.
    pub fn value(self, s: &[i64; 5]) -> Option<f64> {
        let f = |k: usize| s[k] as f64;
        let ratio = |num: f64, den: i64| (den != 0).then(|| num / den as f64);
        match self {
            Metric::Impressions | Metric::Clicks => Some(f(self as usize)),
            Metric::Cost | Metric::Conversions | Metric::Revenue => {
                Some(f(self as usize) / Self::unit(self as usize))
            }
            Metric::Ctr => ratio(f(CLICKS), s[IMPRESSIONS]),
            Metric::Cpc => ratio(f(COST) / 1e6, s[CLICKS]),
            Metric::Cpm => ratio(f(COST) / 1e3, s[IMPRESSIONS]),
            Metric::Cvr => ratio(f(CONVERSIONS) / 1e6, s[CLICKS]),
            Metric::Cpa => ratio(f(COST), s[CONVERSIONS]),
            Metric::Roas => ratio(f(REVENUE), s[COST]),
            Metric::Roi => ratio(profit(s[REVENUE], s[COST]), s[COST]),
            Metric::Aov => ratio(f(REVENUE), s[CONVERSIONS]),
        }
    }

    /// A ratio metric as `scale · numerator / denominator`: (numerator, denominator) from sums,
    /// in the units the metric's value uses. Additive metrics are (value, 1).
    pub fn parts(self, s: &[i64; 5]) -> (f64, f64) {
        let f = |k: usize| s[k] as f64;
        match self {
            Metric::Ctr => (f(CLICKS), f(IMPRESSIONS)),
            Metric::Cpc => (f(COST) / 1e6, f(CLICKS)),
            Metric::Cpm => (f(COST) / 1e3, f(IMPRESSIONS)),
            Metric::Cvr => (f(CONVERSIONS) / 1e6, f(CLICKS)),
            Metric::Cpa => (f(COST), f(CONVERSIONS)),
            Metric::Roas => (f(REVENUE), f(COST)),
            Metric::Roi => (profit(s[REVENUE], s[COST]), f(COST)),
            Metric::Aov => (f(REVENUE), f(CONVERSIONS)),
            _ => (f(self as usize) / Self::unit(self as usize), 1.0),
        }
    }

    /// The measures a ratio's numerator and denominator shares are read from, for surprise:
    /// ROI's numerator can be negative, so its revenue stands in.
    pub fn share_measures(self) -> (usize, Option<usize>) {
        match self {
            Metric::Ctr => (CLICKS, Some(IMPRESSIONS)),
            Metric::Cpc => (COST, Some(CLICKS)),
            Metric::Cpm => (COST, Some(IMPRESSIONS)),
            Metric::Cvr => (CONVERSIONS, Some(CLICKS)),
            Metric::Cpa => (COST, Some(CONVERSIONS)),
            Metric::Roas | Metric::Roi => (REVENUE, Some(COST)),
            Metric::Aov => (REVENUE, Some(CONVERSIONS)),
            _ => (self as usize, None),
        }
    }

    /// The rate a volume metric is judged by beside itself: conversions per click, revenue per
    /// conversion. Its noise lacks the traffic's, so a broken rate stands out of it.
    pub fn volume_rate(self) -> Option<Metric> {
        match self {
            Metric::Conversions => Some(Metric::Cvr),
            Metric::Revenue => Some(Metric::Aov),
            _ => None,
        }
    }

    /// Variance of one day's value around `expected` from sampling alone, given that day's
    /// sums: what a day of this volume could show by chance even if nothing changed.
    ///
    /// Rates (CTR, CVR) use the binomial variance with the Agresti–Coull (Wilson) adjustment,
    /// so a rate expected at 0 still has a width and 40 impressions give a wide band. Cost
    /// ratios use the delta method, with Poisson noise on the counts behind them: clicks for
    /// cost, conversions for CPA's denominator and for revenue (whose order values vary about
    /// as much as their mean, hence the 2). Additive counts are Poisson; money has no
    /// sampling floor (its spread comes from history).
    pub fn sampling_variance(self, expected: f64, s: &[i64; 5], z: f64) -> f64 {
        let count = |k: usize| s[k] as f64 / Self::unit(k);
        let rate = |n: f64| {
            if n <= 0.0 {
                f64::INFINITY
            } else if expected >= 1.0 {
                expected / n
            } else {
                let n_adj = n + z * z;
                let p = (expected * n + z * z / 2.0) / n_adj;
                p * (1.0 - p) / n_adj
            }
        };
        let clicks = count(CLICKS) + 1.0;
        let conversions = count(CONVERSIONS) + 1.0;
        let e2 = expected * expected;
        match self {
            Metric::Impressions | Metric::Clicks | Metric::Conversions => expected.abs(),
            Metric::Cost | Metric::Revenue => 0.0,
            Metric::Ctr => rate(count(IMPRESSIONS)),
            Metric::Cvr => rate(count(CLICKS)),
            Metric::Cpc => e2 / clicks,
            Metric::Cpm => e2 * (1.0 / count(IMPRESSIONS).max(1.0) + 1.0 / clicks),
            Metric::Cpa => e2 * (1.0 / conversions + 1.0 / clicks),
            Metric::Roas => e2 * (2.0 / conversions + 1.0 / clicks),
            Metric::Roi => (expected + 1.0).powi(2) * (2.0 / conversions + 1.0 / clicks),
            Metric::Aov => e2 / conversions,
        }
    }

    /// Smallest change worth reporting when the caller gives none: a jump from 2 to 8 clicks
    /// may be significant, but nobody acts on it.
    pub fn default_min_change(self) -> f64 {
        match self {
            Metric::Impressions => 100.0,
            Metric::Clicks => 5.0,
            Metric::Conversions => 2.0,
            Metric::Cost | Metric::Revenue => 5.0,
            _ => 0.0,
        }
    }
}

/// ROI's numerator, exact in integers before it becomes a float (as in `kpi.rs`).
fn profit(revenue: i64, cost: i64) -> f64 {
    match revenue.checked_sub(cost) {
        Some(d) => d as f64,
        None => (i128::from(revenue) - i128::from(cost)) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::kpi_columns;
    use arrow::array::AsArray;
    use arrow::datatypes::Float64Type;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for name in METRIC_NAMES {
            assert_eq!(Metric::parse(name).unwrap().name(), name);
        }
        assert!(Metric::parse("ctr ").is_err());
    }

    #[test]
    fn ratio_values_are_the_kpi_formulas() {
        let s = [1000, 50, 25_000_000, 5_000_000, 100_000_000];
        let columns = kpi_columns(&s.map(|v| vec![v]), None);
        for (k, metric) in ALL[5..12].iter().enumerate() {
            let kpi = columns[k].as_primitive::<Float64Type>().value(0);
            assert_eq!(metric.value(&s), Some(kpi), "{}", metric.name());
            let (num, den) = metric.parts(&s);
            assert!(
                (num / den - kpi).abs() <= 1e-12 * kpi.abs(),
                "{}",
                metric.name()
            );
        }
        assert_eq!(Metric::Cost.value(&s), Some(25.0));
        assert_eq!(Metric::Cpa.value(&[1, 1, 1, 0, 1]), None);
    }

    #[test]
    fn rates_on_little_volume_have_wide_sampling_bands() {
        let small = Metric::Ctr.sampling_variance(0.05, &[40, 2, 0, 0, 0], 3.0);
        let large = Metric::Ctr.sampling_variance(0.05, &[400_000, 20_000, 0, 0, 0], 3.0);
        assert!(small.sqrt() > 0.03 && large.sqrt() < 0.001);
        assert!(Metric::Ctr.sampling_variance(0.0, &[100, 0, 0, 0, 0], 3.0) > 0.0);
        assert!(Metric::Cvr
            .sampling_variance(0.1, &[0, 0, 0, 0, 0], 3.0)
            .is_infinite());
    }
}
