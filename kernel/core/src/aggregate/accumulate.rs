//! The hot loop: every row adds its five measures to its group's slot. Each thread owns a range
//! of the groups, so slots are neither shared nor merged.

use std::ops::Range;

use super::keys::RowSpace;
use crate::parallel::{map_each, ranges};

/// A running sum: i64 with plain adds, trusted when no sum can have left the i64 range (see
/// `fits_i64`); else i128, which no table that fits in memory can overflow, checked at the end.
pub trait Sum: Copy + Default + Send + Sync {
    fn add(&mut self, v: i64);
    fn to_i64(self) -> Option<i64>;
}

impl Sum for i64 {
    #[inline(always)]
    fn add(&mut self, v: i64) {
        *self = self.wrapping_add(v);
    }

    fn to_i64(self) -> Option<i64> {
        Some(self)
    }
}

impl Sum for i128 {
    #[inline(always)]
    fn add(&mut self, v: i64) {
        *self += i128::from(v);
    }

    fn to_i64(self) -> Option<i64> {
        i64::try_from(self).ok()
    }
}

/// A currency state of a slot: no row yet, one currency (its code + 1), or several.
const NO_CURRENCY: u32 = 0;
const MIXED: u32 = u32::MAX;

#[inline(always)]
fn merge_currency(a: u32, b: u32) -> u32 {
    if a == NO_CURRENCY || a == b {
        b
    } else {
        MIXED
    }
}

/// Aligned to cache lines so that a row's update touches one line, not sometimes two.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot<S> {
    sums: [S; 5],
    /// Global row number + 1 of the group's first row; 0 while the group has no row.
    first_row: u32,
    currency: u32,
}

/// What to sum.
pub struct Inputs<'a> {
    pub rows: &'a RowSpace,
    /// Group code of every row, below `slots`.
    pub groups: &'a [u32],
    pub slots: usize,
    /// impressions, clicks, cost, conversions, revenue of each batch.
    pub measures: Vec<[&'a [i64]; 5]>,
    /// Currency code of every row, when currencies are tracked.
    pub currency: Option<&'a [u32]>,
    /// How many threads may sum.
    pub threads: usize,
}

/// The groups of one range of codes that have rows, in code order.
#[derive(Debug, Default)]
pub struct Groups {
    pub codes: Vec<u32>,
    /// Global row number of each group's first row.
    pub first_rows: Vec<u32>,
    /// impressions, clicks, cost, conversions, revenue.
    pub sums: [Vec<i64>; 5],
    /// The currency code of each group, None when its rows are in several (empty when
    /// currencies are not tracked).
    pub currencies: Vec<Option<u32>>,
}

/// Sums every group exactly: the groups of each thread's range of codes, in code order.
/// Err(i): the sum of measure i does not fit in an i64.
pub fn sum_groups(inputs: &Inputs<'_>) -> Result<Vec<Groups>, usize> {
    let (groups, magnitudes) = sum::<i64>(inputs);
    if fits_i64(magnitudes, inputs.rows.len()) {
        return groups;
    }
    // Some sum might have left the i64 range: exact arithmetic says whether one did.
    sum::<i128>(inputs).0
}

/// Whether sums of `rows` values, whose magnitudes OR-ed together give `magnitudes`, surely
/// stay in the i64 range: the rows times the largest magnitude, both rounded up to powers of
/// two, stay below 2^63.
fn fits_i64(magnitudes: u64, rows: usize) -> bool {
    let bits = |v: u64| u64::BITS - v.leading_zeros();
    bits(magnitudes) + bits(rows as u64) < 63
}

/// Each thread owns a range of group codes and reads every row, so no slot is shared, copied
/// or merged. Also gives the magnitudes of all values summed, OR-ed together: cheaper than
/// checking each add for overflow, as it does not wait for the slot's value.
fn sum<S: Sum>(inputs: &Inputs<'_>) -> (Result<Vec<Groups>, usize>, u64) {
    let owned = ranges(inputs.slots, inputs.threads.min(inputs.slots));
    let parts = map_each(owned, |range| sum_part::<S>(inputs, range));
    let magnitudes = parts.iter().fold(0, |acc, (_, m)| acc | m);
    (
        parts.into_iter().map(|(groups, _)| groups).collect(),
        magnitudes,
    )
}

/// How many rows ahead a row's slot is prefetched: enough misses in flight to cover memory
/// latency, few enough that the lines are still cached when their row comes.
const PREFETCH_ROWS: usize = 16;

fn sum_part<S: Sum>(inputs: &Inputs<'_>, owned: Range<usize>) -> (Result<Groups, usize>, u64) {
    let low = owned.start as u32;
    // Rows of groups that other threads own go to one spare slot past the owned ones, never
    // read: adding there costs less than a branch that mispredicts on every other row.
    let spare = owned.len() as u32;
    let slot_of = |group: u32| group.wrapping_sub(low).min(spare) as usize;
    let mut slots = vec![Slot::<S>::default(); owned.len() + 1];
    let mut magnitudes = 0u64;
    for (batch, local, start) in inputs.rows.segments(0..inputs.rows.len()) {
        let groups = &inputs.groups[start..start + local.len()];
        let columns = inputs.measures[batch].map(|c| &c[local.clone()]);
        let currency = inputs.currency.map(|c| &c[start..start + local.len()]);
        for (i, &group) in groups.iter().enumerate() {
            if let Some(&ahead) = groups.get(i + PREFETCH_ROWS) {
                prefetch(&slots[slot_of(ahead)]);
            }
            let slot = &mut slots[slot_of(group)];
            for (sum, column) in slot.sums.iter_mut().zip(&columns) {
                let value = column[i];
                magnitudes |= value.unsigned_abs();
                sum.add(value);
            }
            let row = (start + i) as u32 + 1;
            slot.first_row = if slot.first_row == 0 {
                row
            } else {
                slot.first_row
            };
            if let Some(currency) = currency {
                slot.currency = merge_currency(slot.currency, currency[i] + 1);
            }
        }
    }
    let owned_slots = &slots[..spare as usize];
    (
        compact(owned_slots, low, inputs.currency.is_some()),
        magnitudes,
    )
}

/// Asks for the cache line of `slot` ahead of its use: the slots are far larger than the
/// caches and each row's is random, so without it every row waits for memory in turn.
#[inline(always)]
fn prefetch<T>(slot: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it reads nothing and cannot fault, and the
    // pointer comes from a live reference.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((slot as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

fn compact<S: Sum>(slots: &[Slot<S>], first_code: u32, currencies: bool) -> Result<Groups, usize> {
    // Room for every slot: the pages of slots without rows are never touched.
    let room = slots.len();
    let mut groups = Groups {
        codes: Vec::with_capacity(room),
        first_rows: Vec::with_capacity(room),
        sums: std::array::from_fn(|_| Vec::with_capacity(room)),
        currencies: Vec::with_capacity(if currencies { room } else { 0 }),
    };
    for (code, slot) in (first_code..).zip(slots).filter(|(_, s)| s.first_row != 0) {
        for (i, (column, sum)) in groups.sums.iter_mut().zip(slot.sums).enumerate() {
            column.push(sum.to_i64().ok_or(i)?);
        }
        groups.codes.push(code);
        groups.first_rows.push(slot.first_row - 1);
        if currencies {
            groups
                .currencies
                .push((slot.currency != MIXED).then(|| slot.currency - 1));
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The groups of all threads as one.
    fn run(
        groups: &[u32],
        slots: usize,
        values: [&[i64]; 5],
        currency: Option<&[u32]>,
        threads: usize,
    ) -> Result<Groups, usize> {
        let rows = RowSpace::new([groups.len()]);
        let parts = sum_groups(&Inputs {
            rows: &rows,
            groups,
            slots,
            measures: vec![values],
            currency,
            threads,
        })?;
        let mut all = Groups::default();
        for part in parts {
            all.codes.extend(part.codes);
            all.first_rows.extend(part.first_rows);
            for (a, b) in all.sums.iter_mut().zip(part.sums) {
                a.extend(b);
            }
            all.currencies.extend(part.currencies);
        }
        Ok(all)
    }

    #[test]
    fn sums_first_rows_and_currencies_per_group() {
        let groups = [2, 0, 2, 2, 0, 3];
        let m: [i64; 6] = [1, 2, 3, 4, 5, 6];
        let currency = [0, 1, 0, 1, 1, 0];
        for threads in [1, 2, 3, 5, 8] {
            let g = run(&groups, 5, [&m, &m, &m, &m, &m], Some(&currency), threads).unwrap();
            assert_eq!(g.codes, [0, 2, 3]);
            assert_eq!(g.first_rows, [1, 0, 5]);
            assert_eq!(g.sums[0], [7, 8, 6]);
            assert_eq!(g.currencies, [Some(1), None, Some(0)]);
        }
        let g = run(&groups, 5, [&m, &m, &m, &m, &m], None, 2).unwrap();
        assert!(g.currencies.is_empty());
    }

    #[test]
    fn sums_are_exact_even_when_a_running_sum_leaves_the_i64_range() {
        let groups = [0, 0, 0];
        let zero = [0i64; 3];
        let back_in_range: [i64; 3] = [i64::MAX, 1, -2];
        let g = run(
            &groups,
            1,
            [&zero, &back_in_range, &zero, &zero, &zero],
            None,
            1,
        )
        .unwrap();
        assert_eq!(g.sums[1], [i64::MAX - 1]);
        let too_much: [i64; 3] = [i64::MAX, 1, 0];
        assert_eq!(
            run(&groups, 1, [&zero, &zero, &too_much, &zero, &zero], None, 2).unwrap_err(),
            2
        );
    }

    #[test]
    fn the_i64_sums_are_trusted_only_when_no_sum_can_overflow() {
        assert!(fits_i64(1 << 40, 4));
        assert!(fits_i64((1 << 40) | 5, 1 << 20));
        assert!(!fits_i64(1 << 60, 8));
        assert!(!fits_i64(i64::MIN.unsigned_abs(), 1));
    }

    #[test]
    fn each_thread_sums_only_the_groups_it_owns() {
        let groups = [1, 2, 0, 1];
        let values = [10, 20, 5, -1];
        let rows = RowSpace::new([4]);
        let inputs = Inputs {
            rows: &rows,
            groups: &groups,
            slots: 3,
            measures: vec![[&values; 5]],
            currency: None,
            threads: 3,
        };
        let parts = sum::<i64>(&inputs).0.unwrap();
        let got: Vec<(Vec<u32>, Vec<i64>)> = parts
            .into_iter()
            .map(|p| (p.codes, p.sums[0].clone()))
            .collect();
        assert_eq!(
            got,
            [(vec![0], vec![5]), (vec![1], vec![9]), (vec![2], vec![20])]
        );
    }

    #[test]
    fn currencies_merge() {
        assert_eq!(merge_currency(NO_CURRENCY, 3), 3);
        assert_eq!(merge_currency(3, 3), 3);
        assert_eq!(merge_currency(3, 4), MIXED);
        assert_eq!(merge_currency(MIXED, 3), MIXED);
    }
}
