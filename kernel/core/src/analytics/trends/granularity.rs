//! Date buckets of a trend: days, ISO weeks from Monday, calendar months.

use crate::analytics::AnalyticsError;
use crate::date::{civil_from_days, days_from_civil};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn parse(name: &str) -> Result<Granularity, AnalyticsError> {
        match name {
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            _ => Err(AnalyticsError(format!(
                "unknown granularity '{name}' (expected day, week or month)"
            ))),
        }
    }

    /// The number of the bucket holding `day`, counted from an arbitrary origin.
    pub fn bucket(self, day: i32) -> i32 {
        match self {
            Granularity::Day => day,
            // 1970-01-01 was a Thursday: weeks are numbered from the Monday before it.
            Granularity::Week => (day + 3).div_euclid(7),
            Granularity::Month => {
                let (y, m, _) = civil_from_days(i64::from(day));
                y as i32 * 12 + m as i32 - 1
            }
        }
    }

    /// The first day of bucket `b`.
    pub fn start_of(self, b: i32) -> i32 {
        match self {
            Granularity::Day => b,
            Granularity::Week => b * 7 - 3,
            Granularity::Month => {
                days_from_civil(b.div_euclid(12), (b.rem_euclid(12) + 1) as u32, 1)
            }
        }
    }

    /// How many buckets back the same bucket a year earlier is.
    pub fn year(self) -> i32 {
        match self {
            Granularity::Day => 364,
            Granularity::Week => 52,
            Granularity::Month => 12,
        }
    }
}
