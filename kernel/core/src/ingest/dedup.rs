//! In-batch deduplication on the fact key (date, platform, account_id, campaign_id,
//! ad_group_id, ad_id): of rows with one key only the last is kept, as a later delivery
//! restates an earlier one.
//!
//! Rows are first split by the top bits of their key hash into partitions small enough for
//! their hash table to stay in cache (one big table is a cache miss per row), and the
//! partitions, independent of each other, are spread over the worker threads.

use std::hash::{BuildHasher, Hasher};

use arrow::array::{AsArray, StringArray};
use arrow::datatypes::Date32Type;
use arrow::record_batch::RecordBatch;
use foldhash::fast::FixedState;
use hashbrown::hash_table::{Entry, HashTable};

use crate::parallel::{map_each, parts_for, ranges};

/// Columns of the fact schema that make the key, besides the date.
const KEY_TEXT: [usize; 5] = [1, 2, 3, 5, 6];

/// Rows a partition has on average: its table of u32 indexes fits in L2.
const ROWS_PER_PARTITION: usize = 4096;

struct Keys<'a> {
    dates: &'a [i32],
    text: [&'a StringArray; 5],
}

impl Keys<'_> {
    fn same(&self, a: usize, b: usize) -> bool {
        self.dates[a] == self.dates[b] && self.text.iter().all(|c| c.value(a) == c.value(b))
    }
}

/// `keep[i]` is false when a later row of `facts` (in the fact schema) has row i's key.
pub fn last_of_each_key(facts: &RecordBatch, threads: usize) -> Vec<bool> {
    let rows = facts.num_rows();
    let mut keep = vec![true; rows];
    if rows < 2 {
        return keep;
    }
    let keys = Keys {
        dates: facts.column(0).as_primitive::<Date32Type>().values(),
        text: KEY_TEXT.map(|i| facts.column(i).as_string::<i32>()),
    };
    let hashes = hashes(&keys, rows);
    let bits = (rows / ROWS_PER_PARTITION).max(1).ilog2().min(12);
    // The top `bits` bits; none (one partition) for a small batch.
    let partition = |hash: u64| hash.checked_shr(64 - bits).unwrap_or(0) as usize;
    // Row indexes grouped by partition, each group in row order.
    let mut starts = vec![0u32; (1 << bits) + 1];
    for hash in &hashes {
        starts[partition(*hash) + 1] += 1;
    }
    for p in 1..starts.len() {
        starts[p] += starts[p - 1];
    }
    let mut next = starts.clone();
    let mut grouped = vec![0u32; rows];
    for (row, hash) in hashes.iter().enumerate() {
        let slot = &mut next[partition(*hash)];
        grouped[*slot as usize] = row as u32;
        *slot += 1;
    }
    let partitions = starts.len() - 1;
    let parts = ranges(partitions, parts_for(rows, threads));
    let dropped = map_each(parts, |range| {
        let mut dropped = Vec::new();
        let mut latest: HashTable<u32> = HashTable::new();
        for p in range {
            let members = &grouped[starts[p] as usize..starts[p + 1] as usize];
            latest.clear();
            for &row in members {
                let r = row as usize;
                let hash = hashes[r];
                let entry =
                    latest.entry(hash, |&j| keys.same(j as usize, r), |&j| hashes[j as usize]);
                match entry {
                    Entry::Occupied(mut seen) => {
                        dropped.push(*seen.get());
                        *seen.get_mut() = row;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(row);
                    }
                }
            }
        }
        dropped
    });
    for row in dropped.into_iter().flatten() {
        keep[row as usize] = false;
    }
    keep
}

/// The key hash of every row, computed column after column so each column's bytes are read
/// in order.
fn hashes(keys: &Keys<'_>, rows: usize) -> Vec<u64> {
    let state = FixedState::default();
    let mut hashes: Vec<u64> = keys
        .dates
        .iter()
        .map(|d| {
            let mut h = state.build_hasher();
            h.write_i32(*d);
            h.finish()
        })
        .collect();
    for column in keys.text {
        for (row, hash) in hashes.iter_mut().enumerate().take(rows) {
            let mut h = state.build_hasher();
            h.write_u64(*hash);
            // The length keeps "ab"+"c" and "a"+"bc" apart.
            let value = column.value(row).as_bytes();
            h.write_usize(value.len());
            h.write(value);
            *hash = h.finish();
        }
    }
    hashes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Date32Array, Int64Array};
    use proptest::prelude::*;

    use super::*;
    use crate::schema::fact_schema;

    fn facts(keys: &[(i32, u8, u8)]) -> RecordBatch {
        let text = |f: &dyn Fn(&(i32, u8, u8)) -> String| {
            Arc::new(StringArray::from_iter_values(keys.iter().map(f))) as ArrayRef
        };
        let zeros = || Arc::new(Int64Array::from(vec![0; keys.len()])) as ArrayRef;
        let columns = vec![
            Arc::new(Date32Array::from_iter_values(keys.iter().map(|k| k.0))) as ArrayRef,
            text(&|_| "google_ads".into()),
            text(&|k| format!("a{}", k.1 % 3)),
            text(&|k| format!("c{}", k.2)),
            text(&|_| String::new()),
            text(&|k| format!("g{}", k.1)),
            text(&|_| "ad".into()),
            text(&|_| "EUR".into()),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
        ];
        RecordBatch::try_new(fact_schema(), columns).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Partitioned and threaded, the outcome is the naive one: the last row of each key.
        #[test]
        fn the_last_row_of_each_key_is_kept(
            keys in prop::collection::vec((0i32..3, any::<u8>(), 0u8..4), 0..20_000),
            threads in 1usize..4,
        ) {
            let keep = last_of_each_key(&facts(&keys), threads);
            let last: std::collections::HashMap<_, usize> =
                keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
            let naive: Vec<bool> = keys.iter().enumerate().map(|(i, k)| last[k] == i).collect();
            prop_assert_eq!(keep, naive);
        }
    }
}
