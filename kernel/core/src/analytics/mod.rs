//! The analytics over pre-aggregated sums: time series with comparisons (`trends`), anomaly
//! detection (`detect`), change attribution (`explain`) and money decisions (`budget`). The
//! store sums by group, date and currency; everything here reads those sums as Arrow.

pub mod budget;
pub mod detect;
pub mod explain;
pub mod metric;
pub mod series;
mod stats;
pub mod trends;
mod window;

pub use metric::Metric;
pub use series::SeriesSet;

/// Arguments or a table that do not fit the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsError(pub String);

impl std::fmt::Display for AnalyticsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AnalyticsError {}
