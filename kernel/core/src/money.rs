//! Counts and money from text and numbers, exactly: money becomes integer micros (millionths of
//! the currency unit) without ever passing through a binary float, so sums never drift.

use crate::problem::Problem;

pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// The largest value a field may hold, and how a reason writes it.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub max: i64,
    pub text: &'static str,
}

/// Impressions and clicks.
pub const COUNT: Bound = Bound {
    max: 1_000_000_000_000,
    text: "1000000000000",
};
/// Money given in micros (`cost_micros`, …): the same ceiling as money given in units.
pub const MICROS: Bound = Bound {
    max: 1_000_000_000_000_000,
    text: "1000000000000000",
};
/// Money given in units (`cost`, …), as its reason writes it; the ceiling is `MICROS.max`.
const UNITS_TEXT: &str = "1000000000";

/// Digits beyond this many (after leading zeros) exceed every bound, whatever they are.
const MAX_SIGNIFICANT: usize = 16;

/// A whole number written as plain digits (optionally signed); empty means 0.
pub fn whole_from_text(text: &[u8], bound: Bound) -> Result<i64, Problem> {
    let text = text.trim_ascii();
    let (negative, digits) = split_sign(text);
    if digits.is_empty() && !text.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Problem::NotAWholeNumber);
    }
    let significant = strip_leading_zeros(digits);
    if significant.is_empty() {
        return Ok(0);
    }
    if negative {
        return Err(Problem::Negative);
    }
    if significant.len() > MAX_SIGNIFICANT {
        return Err(Problem::TooLarge { max: bound.text });
    }
    within(fold_digits(significant), bound)
}

/// A whole number from a typed integer.
pub fn whole_from_int(value: i128, bound: Bound) -> Result<i64, Problem> {
    if value < 0 {
        return Err(Problem::Negative);
    }
    i64::try_from(value)
        .map_err(|_| Problem::TooLarge { max: bound.text })
        .and_then(|v| within(v, bound))
}

/// Money written as a decimal (`12.5`, `.5`, `1e3`; empty means 0) → micros, rounding half to
/// even past the sixth decimal.
pub fn micros_from_text(text: &[u8]) -> Result<i64, Problem> {
    let text = text.trim_ascii();
    if text.is_empty() {
        return Ok(0);
    }
    let (negative, digits, exponent) = split_decimal(text).ok_or(Problem::NotANumber)?;
    micros_from_digits(negative, digits, exponent)
}

/// Money in whole currency units → micros.
pub fn micros_from_units(value: i128) -> Result<i64, Problem> {
    if value < 0 {
        return Err(Problem::Negative);
    }
    value
        .checked_mul(i128::from(MICROS_PER_UNIT))
        .and_then(|v| i64::try_from(v).ok())
        .filter(|v| *v <= MICROS.max)
        .ok_or(Problem::TooLarge { max: UNITS_TEXT })
}

/// Money as a binary float → micros of its shortest round-trip decimal (0.1 is 100000 micros,
/// not 100000.0000000000055…).
pub fn micros_from_f64(value: f64) -> Result<i64, Problem> {
    if !value.is_finite() {
        return Err(Problem::NotFinite);
    }
    micros_from_text(ryu::Buffer::new().format_finite(value).as_bytes())
}

/// As `micros_from_f64`, with the shortest decimal that round-trips through an f32.
pub fn micros_from_f32(value: f32) -> Result<i64, Problem> {
    if !value.is_finite() {
        return Err(Problem::NotFinite);
    }
    micros_from_text(ryu::Buffer::new().format_finite(value).as_bytes())
}

/// Money as a non-negative scaled integer (an Arrow decimal: `unscaled × 10^-scale`, given by
/// the decimal digits of `unscaled`) → micros.
pub fn micros_from_scaled(unscaled_digits: &[u8], scale: i8) -> Result<i64, Problem> {
    let digits = Digits {
        int: unscaled_digits,
        frac: &[],
    };
    micros_from_digits(false, digits, -i64::from(scale))
}

fn within(value: i64, bound: Bound) -> Result<i64, Problem> {
    if value > bound.max {
        Err(Problem::TooLarge { max: bound.text })
    } else {
        Ok(value)
    }
}

fn split_sign(text: &[u8]) -> (bool, &[u8]) {
    match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn strip_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|d| **d == b'0').count();
    &digits[zeros..]
}

fn fold_digits(digits: &[u8]) -> i64 {
    digits
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
}

fn count_digits(text: &[u8]) -> usize {
    text.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// The digits of a decimal, the integer and fraction parts apart as written.
#[derive(Clone, Copy)]
struct Digits<'a> {
    int: &'a [u8],
    frac: &'a [u8],
}

impl Digits<'_> {
    fn len(&self) -> usize {
        self.int.len() + self.frac.len()
    }

    fn at(&self, i: usize) -> u8 {
        let d = if i < self.int.len() {
            self.int[i]
        } else {
            self.frac[i - self.int.len()]
        };
        d - b'0'
    }

    fn any_nonzero(&self, from: usize) -> bool {
        (from..self.len()).any(|i| self.at(i) != 0)
    }

    fn fold(&self, from: usize, to: usize) -> i64 {
        (from..to).fold(0i64, |acc, i| acc * 10 + i64::from(self.at(i)))
    }
}

/// `[+-] digits [. digits] [e [+-] digits]` (also `.5` and `5.`): JSON numbers and plain
/// decimals. The exponent saturates far beyond any value that could pass the bounds.
fn split_decimal(text: &[u8]) -> Option<(bool, Digits<'_>, i64)> {
    const EXPONENT_CAP: i64 = 1 << 40;
    let (negative, rest) = split_sign(text);
    let int_len = count_digits(rest);
    let (int, mut rest) = rest.split_at(int_len);
    let mut frac: &[u8] = &[];
    if let Some(after_point) = rest.strip_prefix(b".") {
        let frac_len = count_digits(after_point);
        (frac, rest) = after_point.split_at(frac_len);
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exponent = 0i64;
    if let Some(after_e) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let (exp_negative, exp_digits) = split_sign(after_e);
        if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        exponent = exp_digits.iter().fold(0i64, |acc, d| {
            (acc * 10 + i64::from(d - b'0')).min(EXPONENT_CAP)
        });
        if exp_negative {
            exponent = -exponent;
        }
        rest = &[];
    }
    rest.is_empty()
        .then_some((negative, Digits { int, frac }, exponent))
}

/// `digits × 10^exponent` (digits read as one integer) → micros, half to even; the range
/// check is on the exact value, so 1000000000.0000001 is too large although it rounds to 10^9.
fn micros_from_digits(negative: bool, digits: Digits<'_>, exponent: i64) -> Result<i64, Problem> {
    let too_large = Problem::TooLarge { max: UNITS_TEXT };
    let total = digits.len();
    let Some(lead) = (0..total).find(|&i| digits.at(i) != 0) else {
        return Ok(0);
    };
    if negative {
        return Err(Problem::Negative);
    }
    let significant = (total - lead) as i64;
    // micros = significant digits × 10^power
    let power = exponent + 6 - digits.frac.len() as i64;
    if power >= 0 {
        if significant + power > MAX_SIGNIFICANT as i64 {
            return Err(too_large);
        }
        let micros = digits.fold(lead, total) * 10i64.pow(power as u32);
        return if micros > MICROS.max {
            Err(too_large)
        } else {
            Ok(micros)
        };
    }
    let dropped = -power;
    let kept_len = (significant - dropped).max(0) as usize;
    if kept_len > MAX_SIGNIFICANT {
        return Err(too_large);
    }
    let kept = digits.fold(lead, lead + kept_len);
    // The first dropped digit is an implied zero when every significant digit is dropped.
    let (first_dropped, rest_nonzero) = if dropped <= significant {
        let at = lead + kept_len;
        (digits.at(at), digits.any_nonzero(at + 1))
    } else {
        (0, true)
    };
    if kept > MICROS.max || kept == MICROS.max && (first_dropped != 0 || rest_nonzero) {
        return Err(too_large);
    }
    let round_up = first_dropped > 5 || first_dropped == 5 && (rest_nonzero || kept % 2 == 1);
    Ok(kept + i64::from(round_up))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn micros(text: &str) -> Result<i64, Problem> {
        micros_from_text(text.as_bytes())
    }

    #[test]
    fn plain_decimals_become_exact_micros() {
        assert_eq!(micros("123.45"), Ok(123_450_000));
        assert_eq!(micros(" 0.000001 "), Ok(1));
        assert_eq!(micros(".5"), Ok(500_000));
        assert_eq!(micros("5."), Ok(5_000_000));
        assert_eq!(micros("+7"), Ok(7_000_000));
        assert_eq!(micros(""), Ok(0));
        assert_eq!(micros("   "), Ok(0));
        assert_eq!(micros("-0"), Ok(0));
        assert_eq!(micros("-0.0000000"), Ok(0));
        assert_eq!(micros("000012.500"), Ok(12_500_000));
    }

    #[test]
    fn json_exponents_are_read_exactly() {
        assert_eq!(micros("1e3"), Ok(1_000_000_000));
        assert_eq!(micros("1.5E-3"), Ok(1_500));
        assert_eq!(micros("25e-1"), Ok(2_500_000));
        assert_eq!(micros("0e999999999999999999999"), Ok(0));
        assert_eq!(micros("1e-99999999999999999999"), Ok(0));
        assert_eq!(
            micros("1e999999999999999999999"),
            Err(Problem::TooLarge { max: UNITS_TEXT })
        );
    }

    #[test]
    fn rounding_past_six_decimals_is_half_to_even() {
        assert_eq!(micros("0.0000005"), Ok(0));
        assert_eq!(micros("0.0000015"), Ok(2));
        assert_eq!(micros("0.0000025"), Ok(2));
        assert_eq!(micros("0.00000250001"), Ok(3));
        assert_eq!(micros("0.0000024999999"), Ok(2));
        assert_eq!(micros("0.0000035"), Ok(4));
        assert_eq!(micros("0.00000051"), Ok(1));
        assert_eq!(micros("1.2345675"), Ok(1_234_568));
        assert_eq!(micros("1.2345665"), Ok(1_234_566));
        assert_eq!(micros("0.00000000000000000001"), Ok(0));
    }

    #[test]
    fn the_ceiling_is_on_the_exact_value() {
        assert_eq!(micros("1000000000"), Ok(MICROS.max));
        assert_eq!(micros("1000000000.0000000"), Ok(MICROS.max));
        assert_eq!(micros("999999999.9999999"), Ok(MICROS.max));
        let too_large = Err(Problem::TooLarge { max: UNITS_TEXT });
        assert_eq!(micros("1000000000.0000001"), too_large);
        assert_eq!(micros("1000000000.000001"), too_large);
        assert_eq!(micros("1e10"), too_large);
        assert_eq!(micros("99999999999999999999999999"), too_large);
    }

    #[test]
    fn non_numbers_and_negatives_are_refused() {
        for bad in [
            "abc", "1,234", "1.2.3", "NaN", "inf", "-", ".", "e5", "1e", "1e+", "1 2", "0x10",
            "--1",
        ] {
            assert_eq!(micros(bad), Err(Problem::NotANumber), "{bad}");
        }
        assert_eq!(micros("-5"), Err(Problem::Negative));
        assert_eq!(micros("-0.0000001"), Err(Problem::Negative));
    }

    #[test]
    fn whole_numbers_are_plain_digits() {
        let whole = |t: &str| whole_from_text(t.as_bytes(), COUNT);
        assert_eq!(whole("42"), Ok(42));
        assert_eq!(whole(" 0042 "), Ok(42));
        assert_eq!(whole(""), Ok(0));
        assert_eq!(whole("-0"), Ok(0));
        assert_eq!(whole("1000000000000"), Ok(COUNT.max));
        assert_eq!(
            whole("1000000000001"),
            Err(Problem::TooLarge { max: COUNT.text })
        );
        assert_eq!(
            whole("99999999999999999999999"),
            Err(Problem::TooLarge { max: COUNT.text })
        );
        assert_eq!(whole("-3"), Err(Problem::Negative));
        for bad in ["1.0", "1e3", "1,234", "abc", "-", "+", "1 2"] {
            assert_eq!(whole(bad), Err(Problem::NotAWholeNumber), "{bad}");
        }
    }

    #[test]
    fn typed_numbers() {
        assert_eq!(whole_from_int(5, COUNT), Ok(5));
        assert_eq!(whole_from_int(-1, COUNT), Err(Problem::Negative));
        assert_eq!(
            whole_from_int(i128::MAX, MICROS),
            Err(Problem::TooLarge { max: MICROS.text })
        );
        assert_eq!(micros_from_units(12), Ok(12_000_000));
        assert_eq!(
            micros_from_units(1_000_000_001),
            Err(Problem::TooLarge { max: UNITS_TEXT })
        );
        assert_eq!(micros_from_units(-2), Err(Problem::Negative));
        assert_eq!(micros_from_f64(0.1), Ok(100_000));
        assert_eq!(micros_from_f64(1e-7), Ok(0));
        assert_eq!(micros_from_f64(2.5e-6), Ok(2));
        assert_eq!(micros_from_f64(-0.0), Ok(0));
        assert_eq!(micros_from_f64(f64::NAN), Err(Problem::NotFinite));
        assert_eq!(micros_from_f64(f64::INFINITY), Err(Problem::NotFinite));
        assert_eq!(micros_from_f64(-1.5), Err(Problem::Negative));
        assert_eq!(micros_from_f32(0.1), Ok(100_000));
        assert_eq!(micros_from_scaled(b"12345", 2), Ok(123_450_000));
        assert_eq!(micros_from_scaled(b"12345", 8), Ok(123));
        assert_eq!(micros_from_scaled(b"5", -3), Ok(5_000_000_000));
        assert_eq!(micros_from_scaled(b"15", 7), Ok(2));
    }

    /// Half-to-even rounding of `n × 10^power` micros, in plain integer arithmetic.
    fn naive_micros(n: u128, power: i32) -> Option<i64> {
        let ceiling = MICROS.max as u128;
        if power >= 0 {
            let v = n * 10u128.pow(power as u32);
            return (v <= ceiling).then_some(v as i64);
        }
        let div = 10u128.pow(power.unsigned_abs());
        let (q, r) = (n / div, n % div);
        if q > ceiling || q == ceiling && r > 0 {
            return None;
        }
        let up = 2 * r > div || 2 * r == div && q % 2 == 1;
        Some((q + u128::from(up)) as i64)
    }

    proptest! {
        #[test]
        fn decimals_match_integer_arithmetic(
            int in "[0-9]{0,12}",
            frac in "[0-9]{0,12}",
            exp in -8i32..8,
        ) {
            prop_assume!(!(int.is_empty() && frac.is_empty()));
            let text = format!("{int}.{frac}e{exp}");
            let n: u128 = format!("0{int}{frac}").parse().unwrap();
            let expected = naive_micros(n, exp + 6 - frac.len() as i32);
            let got = micros(&text);
            match expected {
                Some(v) => prop_assert_eq!(got, Ok(v)),
                None => prop_assert_eq!(got, Err(Problem::TooLarge { max: UNITS_TEXT })),
            }
        }

        #[test]
        fn floats_read_as_their_shortest_decimal(v in 0.0f64..2e9) {
            let text = format!("{v:?}");
            prop_assert_eq!(micros_from_f64(v), micros(&text));
        }
    }
}
