//! Small exact statistics over a handful of values (windows of a few weeks); the plain
//! recomputing forms the sliding window and the attributions are tested against.

/// Median of `values` (reordered in place); None when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (low, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if n % 2 == 1 {
        return Some(m);
    }
    let below = low.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((below + m) / 2.0)
}

/// The median and the median absolute deviation from it (scaled by 1.4826, so that it
/// estimates the standard deviation of normal data); `scratch` is reused.
pub fn median_mad(values: &[f64], scratch: &mut Vec<f64>) -> Option<(f64, f64)> {
    scratch.clear();
    scratch.extend_from_slice(values);
    let m = median(scratch)?;
    scratch.clear();
    scratch.extend(values.iter().map(|v| (v - m).abs()));
    let mad = median(scratch)?;
    Some((m, 1.4826 * mad))
}

/// Mean and sample standard deviation; None for fewer than two values.
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, var.sqrt()))
}

#[cfg(test)]
/// Sum with Neumaier's compensation: attributions must add up to their total to the last bit
/// that floats allow, whatever the spread of their magnitudes.
pub fn exact_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        compensation += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    sum + compensation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_mads() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        let mut scratch = Vec::new();
        let (m, mad) = median_mad(&[1.0, 2.0, 3.0, 4.0, 100.0], &mut scratch).unwrap();
        assert_eq!(m, 3.0);
        assert!((mad - 1.4826).abs() < 1e-12);
        assert_eq!(mean_std(&[2.0, 4.0]), Some((3.0, 2f64.sqrt())));
        assert_eq!(mean_std(&[2.0]), None);
    }

    #[test]
    fn compensated_sums_keep_small_terms() {
        assert_eq!(exact_sum([1e16, 1.0, -1e16]), 1.0);
        assert_eq!([1e16, 1.0, -1e16].iter().sum::<f64>(), 0.0);
    }
}
