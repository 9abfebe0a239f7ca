//! Evidence beyond one day of one metric, for the noise-aware methods:
//!
//! - a volume metric's rate: conversions are clicks × CVR and revenue is conversions × order
//!   value. Most of a volume's day-to-day noise is its traffic's, which the rate does not
//!   have, so a tracking break (CVR to zero) or an order-value spike stands out of the rate's
//!   band long before it leaves the volume's. The assumption: the rate's own history (its MAD
//!   and its sampling noise at the day's volume) describes its noise as the volume's describes
//!   the volume's.
//! - runs: days of one series are assumed independent given the baseline, so k consecutive
//!   days leaning the same way have a combined score Σ score / √k (Stouffer) that is as rare
//!   under noise as one day's score of that size: a four-day spend spike of 2.6 deviations a
//!   day (a ×2.5 spike on a campaign whose spend moves 40 % a day) scores 5.2 together. Each
//!   day counts for at most the run band, so one day far out does not carry its ordinary
//!   neighbours, and a day anomalous alone may be part of a run: then a narrower band (a
//!   higher sensitivity) only ever adds runs (Σ min(score, t) / √k ≥ t holds at every t
//!   below one where it holds).

use super::{Judged, Method};

/// The least score, the same way, of every day of a run: a run is days that all moved, not one
/// big day and its ordinary neighbours (that day is judged alone).
const RUN_DAY_LEAST: f64 = 1.0;

/// Marks the days whose rate left its own band the way the metric moved, the metric by at least
/// `corroboration` deviations and `floor` in its units; the evidence is then the larger score.
pub(super) fn corroborate(days: &mut [Judged], rates: &[Judged], corroboration: f64, floor: f64) {
    for (day, rate) in days.iter_mut().zip(rates) {
        let (Some(own), Some(by_rate), Some(moved)) = (day.score, rate.score, deviation(day))
        else {
            continue;
        };
        if rate.anomaly && own * by_rate > 0.0 && own.abs() >= corroboration && moved >= floor {
            day.anomaly = true;
            if by_rate.abs() > own.abs() {
                day.evidence = Some(by_rate);
            }
        }
    }
}

/// What makes consecutive days a run.
pub(super) struct RunRule {
    /// The band of the combined score, and the most one day counts for.
    pub threshold: f64,
    /// Most days in a run.
    pub longest: usize,
    /// The least the days' moves add up to, in the metric's units.
    pub floor: f64,
    /// The least factor (up or down) each day moved by.
    pub factor: f64,
}

/// Marks the days of every run of 2 to `longest` consecutive seasonal days that all lean the
/// same way by `RUN_DAY_LEAST` and by `factor`, and whose combined score, each day's capped at
/// `threshold`, is beyond `threshold` (and whose moves add up to `floor`); each day's evidence
/// is then the largest combined score it is part of.
pub(super) fn runs(days: &mut [Judged], rule: &RunRule) {
    let RunRule {
        threshold,
        longest,
        floor,
        factor,
    } = *rule;
    let mut best: Vec<Option<f64>> = vec![None; days.len()];
    for end in 0..days.len() {
        let (mut sum, mut moved) = (0.0, 0.0);
        for k in 1..=longest.min(end + 1) {
            let day = &days[end + 1 - k];
            let (Some(e), Some(m)) = (day.evidence, deviation(day)) else {
                break;
            };
            if day.method != Some(Method::Seasonal)
                || e.abs() < RUN_DAY_LEAST
                || e * sum < 0.0
                || !moved_by(day, factor)
            {
                break;
            }
            sum += e.clamp(-threshold, threshold);
            moved += m;
            let combined = sum / (k as f64).sqrt();
            if k >= 2 && combined.abs() >= threshold && moved >= floor {
                for slot in &mut best[end + 1 - k..=end] {
                    if slot.is_none_or(|b| b.abs() < combined.abs()) {
                        *slot = Some(combined);
                    }
                }
            }
        }
    }
    for (day, combined) in days.iter_mut().zip(best) {
        if let Some(c) = combined {
            day.anomaly = true;
            if day.evidence.is_none_or(|e| e.abs() < c.abs()) {
                day.evidence = Some(c);
            }
        }
    }
}

/// Whether the day's value is at least `factor` times its expectation, or at most its
/// expectation over `factor` (any value above an expected 0 has moved).
fn moved_by(day: &Judged, factor: f64) -> bool {
    let (Some(x), Some(e)) = (day.observed, day.expected) else {
        return false;
    };
    if e <= 0.0 {
        return x > e;
    }
    x >= e * factor || x <= e / factor
}

/// How far the day's value is from its expectation, in the metric's units.
fn deviation(day: &Judged) -> Option<f64> {
    Some((day.observed? - day.expected?).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i32, score: f64) -> Judged {
        Judged {
            day: n,
            observed: Some(100.0 + score * 10.0),
            expected: Some(100.0),
            lower: Some(50.0),
            upper: Some(150.0),
            score: Some(score),
            evidence: Some(score),
            anomaly: score.abs() > 5.0,
            method: Some(Method::Seasonal),
            severity: 1,
            num: 0.0,
            den: 1.0,
            expected_num: 0.0,
            sums: [0; 5],
        }
    }

    fn rule(threshold: f64) -> RunRule {
        RunRule {
            threshold,
            longest: 4,
            floor: 1.0,
            factor: 1.0,
        }
    }

    fn flagged(days: &[Judged]) -> Vec<bool> {
        days.iter().map(|d| d.anomaly).collect()
    }

    #[test]
    fn consecutive_days_leaning_one_way_add_up() {
        let mut days: Vec<Judged> = [0.5, 3.0, 3.2, 2.9, -0.4, 3.5, 0.2]
            .iter()
            .enumerate()
            .map(|(i, s)| day(i as i32, *s))
            .collect();
        runs(&mut days, &rule(5.0));
        // 3.0 + 3.2 + 2.9 over √3 is 5.25; 3.5 alone, or with its ordinary neighbours, is not.
        assert_eq!(
            flagged(&days),
            [false, true, true, true, false, false, false]
        );
        let evidence = days[2].evidence.unwrap();
        assert!((evidence - 9.1 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(days[2].score, Some(3.2), "a day's own score stays");

        // A day far out alone does not drag its leaning neighbours into its incident: it counts
        // for the run band at most.
        let mut days: Vec<Judged> = [1.5, 1.5, 1.5, 20.0]
            .iter()
            .enumerate()
            .map(|(i, s)| day(i as i32, *s))
            .collect();
        runs(&mut days, &rule(5.0));
        assert_eq!(flagged(&days), [false, false, false, true]);

        // A day anomalous alone does not cut short a run that leans its way.
        let mut days: Vec<Judged> = [4.0, 4.0, 6.0, 4.0]
            .iter()
            .enumerate()
            .map(|(i, s)| day(i as i32, *s))
            .collect();
        runs(&mut days, &rule(5.0));
        assert_eq!(flagged(&days), [true, true, true, true]);

        // Days that moved less than the run's factor are a new level, not an excursion: with
        // scores of 3 a day the values moved by 30 % (see `day`), under ×1.5.
        let mut days: Vec<Judged> = [3.0, 3.0, 3.0]
            .iter()
            .enumerate()
            .map(|(i, s)| day(i as i32, *s))
            .collect();
        runs(
            &mut days,
            &RunRule {
                factor: 1.5,
                ..rule(4.0)
            },
        );
        assert_eq!(flagged(&days), [false, false, false]);
        runs(&mut days, &rule(4.0));
        assert_eq!(flagged(&days), [true, true, true]);
    }

    #[test]
    fn a_narrower_run_band_only_adds_runs() {
        let scores = [1.2, 3.9, 2.2, 7.5, 1.1, -2.5, -4.0, 1.0, 2.9, 3.1];
        let at = |t: f64| {
            let mut days: Vec<Judged> = scores
                .iter()
                .enumerate()
                .map(|(i, s)| day(i as i32, *s))
                .collect();
            runs(&mut days, &rule(t));
            flagged(&days)
        };
        for pair in [9.0, 7.0, 5.5, 4.5, 3.5].windows(2) {
            let (wide, narrow) = (at(pair[0]), at(pair[1]));
            assert!(wide.iter().zip(&narrow).all(|(w, n)| !w || *n), "{pair:?}");
        }
    }

    #[test]
    fn a_rate_flags_the_volume_only_when_the_volume_moved_the_same_way() {
        let mut days = vec![day(0, -3.0), day(1, -0.5), day(2, 2.5)];
        let mut rates = vec![day(0, -9.0), day(1, -9.0), day(2, -9.0)];
        for r in &mut rates {
            r.anomaly = true;
        }
        corroborate(&mut days, &rates, 2.0, 1.0);
        assert_eq!(flagged(&days), [true, false, false]);
        assert_eq!(days[0].evidence, Some(-9.0));
        assert_eq!(days[1].evidence, Some(-0.5));
        assert_eq!(days[2].evidence, Some(2.5));
    }
}
