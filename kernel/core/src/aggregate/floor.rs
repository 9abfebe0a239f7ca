//! The cost a group-by cannot go below once every row's group is known: adding each row's
//! measures into a preallocated array at its group's slot. `bench/kernel_kpis.py` measures
//! the kernel against it, so that "fast" means close to the memory system, not only ahead of
//! other engines.

use std::time::{Duration, Instant};

/// Adds the five measures of row i into `sums[groups[i]]` with one plain loop on one thread,
/// after touching every slot (preallocated: no page faults are timed); returns the loop's time
/// and the five totals (so that a caller can check the work against an aggregation's).
pub fn random_update_floor(
    groups: &[u32],
    measures: [&[i64]; 5],
    slots: usize,
) -> Result<(Duration, [i64; 5]), String> {
    if let Some(bad) = groups.iter().find(|g| **g as usize >= slots) {
        return Err(format!("slot {bad} is not below {slots}"));
    }
    if measures.iter().any(|m| m.len() != groups.len()) {
        return Err("every measure needs one value per row".into());
    }
    let mut sums = vec![[0i64; 5]; slots];
    // Writing each page once makes the preallocation real: calloc'ed pages are mapped lazily.
    std::hint::black_box(sums.as_mut_slice()).fill([0; 5]);
    let start = Instant::now();
    for (i, &group) in groups.iter().enumerate() {
        let slot = &mut sums[group as usize];
        for (sum, column) in slot.iter_mut().zip(&measures) {
            *sum = sum.wrapping_add(column[i]);
        }
    }
    let elapsed = start.elapsed();
    let totals = std::array::from_fn(|k| {
        std::hint::black_box(&sums)
            .iter()
            .fold(0i64, |t, s| t.wrapping_add(s[k]))
    });
    Ok((elapsed, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_every_row_into_its_slot() {
        let groups = [2, 0, 2];
        let values = [1, 2, 4];
        let (_, totals) = random_update_floor(&groups, [&values; 5], 3).unwrap();
        assert_eq!(totals, [7; 5]);
        assert!(random_update_floor(&groups, [&values; 5], 2).is_err());
        assert!(random_update_floor(&groups, [&values[..2]; 5], 3).is_err());
    }
}
