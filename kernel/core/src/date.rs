//! Calendar dates as Arrow date32 (days since 1970-01-01), limited to the years facts can have.

use crate::problem::Problem;

/// 2000-01-01 and 2099-12-31 as days since the epoch: older or later dates are typos.
pub const FIRST_DAY: i32 = 10_957;
pub const LAST_DAY: i32 = 47_481;

/// `YYYY-MM-DD` (surrounding white space allowed) → days since the epoch.
pub fn parse_date(text: &[u8]) -> Result<i32, Problem> {
    let t = text.trim_ascii();
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *t else {
        return Err(Problem::NotADate);
    };
    let num = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let (Some(year), Some(month), Some(day)) =
        (num(&[y0, y1, y2, y3]), num(&[m0, m1]), num(&[d0, d1]))
    else {
        return Err(Problem::NotADate);
    };
    from_parts(i64::from(year), i64::from(month), i64::from(day))
}

/// A date written as three numbers → days since the epoch.
pub fn from_parts(year: i64, month: i64, day: i64) -> Result<i32, Problem> {
    let (Ok(year), Ok(month), Ok(day)) = (
        u32::try_from(year),
        u32::try_from(month),
        u32::try_from(day),
    ) else {
        return Err(Problem::NotADate);
    };
    if year > 9999 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(Problem::NotADate);
    }
    check_day(i64::from(days_from_civil(year as i32, month, day)))
}

/// A day number from a typed date, refused outside the accepted years.
pub fn check_day(day: i64) -> Result<i32, Problem> {
    if (i64::from(FIRST_DAY)..=i64::from(LAST_DAY)).contains(&day) {
        Ok(day as i32)
    } else {
        Err(Problem::DateOutOfRange)
    }
}

/// `YYYY-MM-DD` of a day number (proleptic Gregorian), for quoting typed dates in reasons.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms (public domain), in eras of 400 years.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(t: &str) -> Result<i32, Problem> {
        parse_date(t.as_bytes())
    }

    #[test]
    fn valid_dates_are_days_since_the_epoch() {
        assert_eq!(date("2000-01-01"), Ok(FIRST_DAY));
        assert_eq!(date("2099-12-31"), Ok(LAST_DAY));
        assert_eq!(date("2026-11-22"), Ok(20_779));
        assert_eq!(date(" 2024-02-29 "), Ok(19_782));
    }

    #[test]
    fn impossible_or_malformed_dates_are_not_dates() {
        for bad in [
            "2026-02-30",
            "2025-02-29",
            "2100-02-29x",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "",
            "20260101",
            "2026-04-31",
            "２０２６-01-01",
        ] {
            assert_eq!(date(bad), Err(Problem::NotADate), "{bad}");
        }
    }

    #[test]
    fn dates_outside_the_century_are_refused() {
        assert_eq!(date("1999-12-31"), Err(Problem::DateOutOfRange));
        assert_eq!(date("2100-01-01"), Err(Problem::DateOutOfRange));
        assert_eq!(check_day(i64::from(i32::MIN)), Err(Problem::DateOutOfRange));
        assert_eq!(check_day(20_000), Ok(20_000));
    }

    #[test]
    fn formatting_inverts_parsing_over_the_whole_range() {
        for day in FIRST_DAY - 800..=LAST_DAY + 800 {
            let text = format_day(i64::from(day));
            let expected = check_day(i64::from(day));
            assert_eq!(date(&text), expected, "{text}");
        }
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(-1), "1969-12-31");
    }
}
