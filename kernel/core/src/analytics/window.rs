//! A sliding window of values kept sorted, so its median and MAD cost a few comparisons
//! instead of a selection per point: the seasonal detector asks for both at every day of every
//! series.

#[derive(Debug, Default)]
pub struct SortedWindow {
    values: Vec<f64>,
}

impl SortedWindow {
    pub fn clear(&mut self) {
        self.values.clear();
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn insert(&mut self, v: f64) {
        let at = self.values.partition_point(|x| x.total_cmp(&v).is_lt());
        self.values.insert(at, v);
    }

    /// Removes one value equal to `v` (which must be in the window).
    pub fn remove(&mut self, v: f64) {
        let at = self.values.partition_point(|x| x.total_cmp(&v).is_lt());
        debug_assert!(self.values[at].total_cmp(&v).is_eq());
        self.values.remove(at);
    }

    pub fn median(&self) -> Option<f64> {
        let n = self.values.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(self.values[n / 2]),
            _ => Some((self.values[n / 2 - 1] + self.values[n / 2]) / 2.0),
        }
    }

    /// Median and MAD × 1.4826. The deviations from the median are two sorted runs (walking
    /// out from the median on either side), merged only as far as their middle.
    pub fn median_mad(&self) -> Option<(f64, f64)> {
        let m = self.median()?;
        let a = &self.values;
        let n = a.len();
        let mut right = a.partition_point(|x| *x < m);
        let mut left = right;
        let wanted = n / 2 + 1;
        let (mut previous, mut current) = (0.0, 0.0);
        for _ in 0..wanted {
            let from_left = (left > 0).then(|| m - a[left - 1]);
            let from_right = (right < n).then(|| a[right] - m);
            let next = match (from_left, from_right) {
                (Some(l), Some(r)) if l <= r => {
                    left -= 1;
                    l
                }
                (_, Some(r)) => {
                    right += 1;
                    r
                }
                (Some(l), None) => {
                    left -= 1;
                    l
                }
                (None, None) => unreachable!("the window has n values"),
            };
            previous = current;
            current = next;
        }
        let mad = if n % 2 == 1 {
            current
        } else {
            (previous + current) / 2.0
        };
        Some((m, 1.4826 * mad))
    }

    /// The spread of each side of the median (× 1.4826, as the MAD): the median distance from
    /// `m` of the lower half of the values, and of the upper half. For symmetric noise both are
    /// the MAD; a budget-capped series has small rises and ordinary dips, and each side is
    /// judged by its own. Halves, not the values beyond `m`: a few outliers on one side of a
    /// flat series are a few values of its half, not all of them.
    pub fn side_spreads(&self, m: f64) -> (f64, f64) {
        let a = &self.values;
        let half = a.len() / 2;
        let middle = |side: &[f64]| -> f64 {
            let n = side.len();
            match n {
                0 => m,
                _ if n % 2 == 1 => side[n / 2],
                _ => (side[n / 2 - 1] + side[n / 2]) / 2.0,
            }
        };
        (
            1.4826 * (m - middle(&a[..half])).max(0.0),
            1.4826 * (middle(&a[a.len() - half..]) - m).max(0.0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::stats::median_mad;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sliding_equals_recomputing(values in prop::collection::vec(-1e3f64..1e3, 1..80), w in 1usize..30) {
            let mut window = SortedWindow::default();
            let mut scratch = Vec::new();
            for (i, v) in values.iter().enumerate() {
                window.insert(*v);
                if i >= w {
                    window.remove(values[i - w]);
                }
                let from = i.saturating_sub(w - 1);
                let expected = median_mad(&values[from..=i], &mut scratch);
                prop_assert_eq!(window.median_mad(), expected);
                prop_assert_eq!(window.len(), i + 1 - from);
                let m = expected.unwrap().0;
                let mut sorted = values[from..=i].to_vec();
                sorted.sort_by(f64::total_cmp);
                let half = sorted.len() / 2;
                let side = |part: &[f64]| {
                    let mut d: Vec<f64> = part.iter().map(|v| (v - m).abs()).collect();
                    crate::analytics::stats::median(&mut d).map_or(0.0, |x| 1.4826 * x)
                };
                let (below, above) = window.side_spreads(m);
                prop_assert!((below - side(&sorted[..half])).abs() < 1e-9);
                prop_assert!((above - side(&sorted[sorted.len() - half..])).abs() < 1e-9);
            }
        }
    }
}
