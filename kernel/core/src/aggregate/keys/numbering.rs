//! Distinct values numbered by hashing, in order of first appearance, part by part in parallel.

use std::hash::{BuildHasher, Hash};
use std::ops::Range;

use arrow::array::{Array, OffsetSizeTrait, PrimitiveArray};
use arrow::datatypes::ArrowPrimitiveType;
use foldhash::fast::FixedState;
use hashbrown::HashTable;

use super::fill::fill_codes;
use super::{KeyCodes, RowSpace, NO_ROW};
use crate::parallel::map_ranges_mut;

/// Random-access values of one batch's column; `None` is null.
pub(super) trait Values: Copy + Send + Sync {
    type V: Copy + Hash + Eq + Send + Sync;
    fn get(self, row: usize) -> Option<Self::V>;
}

/// A string value whose equality test inlines the common short case (ids are mostly under 16
/// bytes) instead of calling memcmp, which dominated numbering.
#[derive(Debug, Clone, Copy, Hash)]
pub(super) struct Bytes<'a>(&'a [u8]);

impl PartialEq for Bytes<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        let n = a.len();
        if n != b.len() {
            return false;
        }
        let word = |s: &[u8], at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&s[at..at + 8]);
            u64::from_ne_bytes(w)
        };
        match n {
            8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
            _ => a == b,
        }
    }
}

impl Eq for Bytes<'_> {}

impl<'a, O: OffsetSizeTrait> Values for &'a arrow::array::GenericStringArray<O> {
    type V = Bytes<'a>;
    fn get(self, row: usize) -> Option<Bytes<'a>> {
        self.is_valid(row)
            .then(|| Bytes(self.value(row).as_bytes()))
    }
}

impl<'a> Values for &'a arrow::array::StringViewArray {
    type V = Bytes<'a>;
    fn get(self, row: usize) -> Option<Bytes<'a>> {
        self.is_valid(row)
            .then(|| Bytes(self.value(row).as_bytes()))
    }
}

impl<T: ArrowPrimitiveType> Values for &PrimitiveArray<T>
where
    T::Native: Hash + Eq,
{
    type V = T::Native;
    fn get(self, row: usize) -> Option<T::Native> {
        self.is_valid(row).then(|| self.value(row))
    }
}

/// Marks a null in a part's local codes until the codes are made global.
const NULL_CODE: u32 = u32::MAX;

/// Distinct values numbered in order of appearance, with the first row of each.
struct Numbering<V> {
    table: HashTable<u32>,
    values: Vec<V>,
    first_rows: Vec<u32>,
}

impl<V: Copy + Hash + Eq> Numbering<V> {
    /// Room for `capacity` values, so that a numbering known to grow large does not rehash.
    fn with_capacity(capacity: usize) -> Self {
        Numbering {
            table: HashTable::with_capacity(capacity),
            values: Vec::with_capacity(capacity),
            first_rows: Vec::with_capacity(capacity),
        }
    }

    /// The number of `v`, adding it (first seen at global row `row`) if new.
    fn number(&mut self, v: V, row: u32, hasher: &FixedState) -> u32 {
        let hash = hasher.hash_one(v);
        let values = &mut self.values;
        if let Some(&code) = self.table.find(hash, |&c| values[c as usize] == v) {
            return code;
        }
        let code = values.len() as u32;
        values.push(v);
        self.first_rows.push(row);
        self.table
            .insert_unique(hash, code, |&c| hasher.hash_one(values[c as usize]));
        code
    }
}

/// Numbers distinct values: each part numbers its own (no sharing while hot), then the parts'
/// numberings are merged, in part order so first rows stay first, and the codes rewritten to
/// the merged numbering. Also returns the distinct values in code order. `expected` is how
/// many distinct values a part is expected to meet (0 when unknown).
pub(super) fn encode_hashed<A: Values>(
    arrays: &[A],
    rows: &RowSpace,
    parts: &[Range<usize>],
    expected: usize,
) -> (KeyCodes, Vec<A::V>) {
    let hasher = FixedState::default();
    let (mut codes, locals) = fill_codes(
        rows,
        parts,
        || Numbering::with_capacity(expected),
        |numbering, batch, row, global| {
            arrays[batch]
                .get(row)
                .map_or(NULL_CODE, |v| numbering.number(v, global, &hasher))
        },
    );
    // The first part's numbering is where the merged one starts: its codes stay as they are.
    let mut locals = locals.into_iter();
    let mut merged = locals.next().unwrap_or_else(|| Numbering::with_capacity(0));
    let first_part_len = merged.values.len();
    let others: Vec<Numbering<A::V>> = locals.collect();
    let more: usize = others.iter().map(|l| l.values.len()).sum();
    merged
        .table
        .reserve(more, |&c| hasher.hash_one(merged.values[c as usize]));
    let mut remaps: Vec<Vec<u32>> = vec![(0..first_part_len as u32).collect()];
    for local in &others {
        let remap = local.values.iter().zip(&local.first_rows);
        remaps.push(
            remap
                .map(|(v, row)| merged.number(*v, *row, &hasher))
                .collect(),
        );
    }
    let null = merged.values.len() as u32;
    let null_rows = map_ranges_mut(&mut codes, parts, |part, chunk| {
        let remap = &remaps[part];
        let mut first_null = NO_ROW;
        for (code, row) in chunk.iter_mut().zip(parts[part].start as u32..) {
            if *code == NULL_CODE {
                *code = null;
                first_null = first_null.min(row);
            } else {
                *code = remap[*code as usize];
            }
        }
        first_null
    });
    let mut first_rows = merged.first_rows;
    first_rows.push(null_rows.into_iter().min().unwrap_or(NO_ROW));
    (
        KeyCodes {
            codes,
            cardinality: u64::from(null) + 1,
            first_rows,
        },
        merged.values,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_compare_by_content_at_every_length() {
        let long = "abcdefghijklmnopqrstuvwxyz";
        for n in 0..=long.len() {
            let (a, b) = (&long.as_bytes()[..n], long[..n].to_owned().into_bytes());
            assert_eq!(Bytes(a), Bytes(&b));
            for i in 0..n {
                let mut c = b.clone();
                c[i] = b'_';
                assert_ne!(Bytes(a), Bytes(&c), "{n} {i}");
            }
        }
        assert_ne!(Bytes(b"abc"), Bytes(b"abcd"));
    }
}
