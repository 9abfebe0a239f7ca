//! Key columns as dense codes: every distinct value of a column (null included) gets a number
//! in `0..cardinality`, so groups can be found by arithmetic instead of hashing whole rows.

use std::hash::{BuildHasher, Hash};
use std::ops::Range;

use arrow::array::{Array, ArrayRef, AsArray, OffsetSizeTrait, PrimitiveArray};
use arrow::datatypes::*;
use foldhash::fast::FixedState;
use hashbrown::HashTable;

use super::AggregateError;
use crate::parallel::{map_ranges_mut, ranges};

/// Where each batch's rows start in the row numbering that runs across all batches.
#[derive(Debug)]
pub struct RowSpace {
    starts: Vec<usize>,
}

impl RowSpace {
    pub fn new(batch_lengths: impl IntoIterator<Item = usize>) -> Self {
        let mut starts = vec![0];
        for len in batch_lengths {
            starts.push(starts[starts.len() - 1] + len);
        }
        RowSpace { starts }
    }

    pub fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    /// The pieces of `range` that lie in each batch: (batch, rows in the batch, first global row).
    pub fn segments(
        &self,
        range: Range<usize>,
    ) -> impl Iterator<Item = (usize, Range<usize>, usize)> + '_ {
        self.starts
            .windows(2)
            .enumerate()
            .filter_map(move |(batch, w)| {
                let (from, to) = (range.start.max(w[0]), range.end.min(w[1]));
                (from < to).then(|| (batch, from - w[0]..to - w[0], from))
            })
    }

    /// (batch, row in the batch) of a global row.
    pub fn locate(&self, row: usize) -> (usize, usize) {
        let batch = self.starts.partition_point(|s| *s <= row) - 1;
        (batch, row - self.starts[batch])
    }
}

/// A key column's codes, one per row, each below `cardinality`; `cardinality - 1` is the code
/// of null (whether or not a null occurs).
#[derive(Debug)]
pub struct KeyCodes {
    pub codes: Vec<u32>,
    pub cardinality: u64,
    /// The first global row of each code; `NO_ROW` for a code that does not occur.
    pub first_rows: Vec<u32>,
}

pub const NO_ROW: u32 = u32::MAX;

/// Random-access values of one batch's column; `None` is null.
trait Values: Copy + Send + Sync {
    type V: Copy + Hash + Eq + Send + Sync;
    fn get(self, row: usize) -> Option<Self::V>;
}

/// A string value whose equality test inlines the common short case (ids are mostly under 16
/// bytes) instead of calling memcmp, which dominated numbering.
#[derive(Debug, Clone, Copy, Hash)]
struct Bytes<'a>(&'a [u8]);

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

/// Two code columns read as one: the pair packed into a u64.
#[derive(Clone, Copy)]
struct Pairs<'a> {
    high: &'a [u32],
    low: &'a [u32],
}

impl Values for Pairs<'_> {
    type V = u64;
    fn get(self, row: usize) -> Option<u64> {
        Some(u64::from(self.high[row]) << 32 | u64::from(self.low[row]))
    }
}

/// Codes of a key column given as one array per batch.
pub fn encode(
    arrays: &[ArrayRef],
    rows: &RowSpace,
    parts: &[Range<usize>],
) -> Result<KeyCodes, AggregateError> {
    let Some(first) = arrays.first() else {
        return Ok(KeyCodes {
            codes: Vec::new(),
            cardinality: 1,
            first_rows: vec![NO_ROW],
        });
    };
    macro_rules! integers {
        ($t:ty) => {
            encode_integers(&typed(arrays, |a| a.as_primitive::<$t>()), rows, parts)
        };
    }
    Ok(match first.data_type() {
        DataType::Utf8 => encode_hashed(&typed(arrays, |a| a.as_string::<i32>()), rows, parts, 0).0,
        DataType::LargeUtf8 => {
            encode_hashed(&typed(arrays, |a| a.as_string::<i64>()), rows, parts, 0).0
        }
        DataType::Utf8View => {
            encode_hashed(&typed(arrays, |a| a.as_string_view()), rows, parts, 0).0
        }
        DataType::Dictionary(..) => encode_dictionaries(arrays, rows, parts)?,
        DataType::Date32 => integers!(Date32Type),
        DataType::Int8 => integers!(Int8Type),
        DataType::Int16 => integers!(Int16Type),
        DataType::Int32 => integers!(Int32Type),
        DataType::Int64 => integers!(Int64Type),
        DataType::UInt8 => integers!(UInt8Type),
        DataType::UInt16 => integers!(UInt16Type),
        DataType::UInt32 => integers!(UInt32Type),
        DataType::UInt64 => integers!(UInt64Type),
        other => {
            return Err(AggregateError::invalid(format!(
                "cannot group by a column of type {other}"
            )))
        }
    })
}

fn typed<'a, A>(arrays: &'a [ArrayRef], f: impl Fn(&'a ArrayRef) -> A) -> Vec<A> {
    arrays.iter().map(f).collect()
}

/// One code per row, computed part by part in parallel by `code(state, batch, row, global row)`,
/// where each part has a `state` of its own, returned with the codes.
fn fill_codes<S: Send>(
    rows: &RowSpace,
    parts: &[Range<usize>],
    init: impl Fn() -> S + Sync,
    code: impl Fn(&mut S, usize, usize, u32) -> u32 + Sync,
) -> (Vec<u32>, Vec<S>) {
    let mut codes = vec![0u32; rows.len()];
    let states = map_ranges_mut(&mut codes, parts, |part, out| {
        let range = parts[part].clone();
        let mut state = init();
        for (batch, local, start) in rows.segments(range.clone()) {
            for ((slot, row), global) in out[start - range.start..]
                .iter_mut()
                .zip(local)
                .zip(start as u32..)
            {
                *slot = code(&mut state, batch, row, global);
            }
        }
        state
    });
    (codes, states)
}

/// Codes from a function of the row whose values are known to lie below `cardinality`; each
/// part notes the first row of every code, and the earliest wins.
fn fill_known_codes(
    rows: &RowSpace,
    parts: &[Range<usize>],
    cardinality: u64,
    code: impl Fn(usize, usize) -> u32 + Sync,
) -> KeyCodes {
    let (codes, firsts) = fill_codes(
        rows,
        parts,
        || vec![NO_ROW; cardinality as usize],
        |firsts, batch, row, global| {
            let c = code(batch, row);
            firsts[c as usize] = firsts[c as usize].min(global);
            c
        },
    );
    let mut firsts = firsts.into_iter();
    let mut first_rows = firsts
        .next()
        .unwrap_or_else(|| vec![NO_ROW; cardinality as usize]);
    for part in firsts {
        for (a, b) in first_rows.iter_mut().zip(part) {
            *a = (*a).min(b);
        }
    }
    KeyCodes {
        codes,
        cardinality,
        first_rows,
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
fn encode_hashed<A: Values>(
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

/// Integers (and dates) whose values span a short range are coded by offset from the minimum;
/// others are numbered like strings.
fn encode_integers<T: ArrowPrimitiveType>(
    arrays: &[&PrimitiveArray<T>],
    rows: &RowSpace,
    parts: &[Range<usize>],
) -> KeyCodes
where
    T::Native: Hash + Eq + Into<i128>,
{
    let min = arrays
        .iter()
        .filter_map(|a| arrow::compute::min(*a))
        .map(Into::into)
        .min();
    let max = arrays
        .iter()
        .filter_map(|a| arrow::compute::max(*a))
        .map(Into::into)
        .max();
    let (min, span) = match (min, max) {
        (Some(min), Some(max)) => (min, max - min + 1),
        // Only nulls (or no rows).
        _ => (0, 0),
    };
    if span > (rows.len() as i128).max(1 << 16) {
        return encode_hashed(arrays, rows, parts, 0).0;
    }
    let null = span as u32;
    fill_known_codes(rows, parts, u64::from(null) + 1, |batch, row| {
        arrays[batch]
            .get(row)
            .map_or(null, |v| (v.into() - min) as u32)
    })
}

/// Dictionary arrays: each batch's dictionary values are numbered once, then every row's code
/// is its index's number.
fn encode_dictionaries(
    arrays: &[ArrayRef],
    rows: &RowSpace,
    parts: &[Range<usize>],
) -> Result<KeyCodes, AggregateError> {
    let dictionaries: Vec<&dyn arrow::array::AnyDictionaryArray> = arrays
        .iter()
        .map(|a| {
            a.as_any_dictionary_opt()
                .ok_or_else(|| AggregateError::invalid("mixed dictionary and plain key column"))
        })
        .collect::<Result<_, _>>()?;
    let values: Vec<ArrayRef> = dictionaries.iter().map(|d| d.values().clone()).collect();
    let value_rows = RowSpace::new(values.iter().map(|v| v.len()));
    let value_codes = encode(&values, &value_rows, &ranges(value_rows.len(), 1))?;
    // A batch with an empty dictionary can only have null indices.
    let keys: Vec<Option<Vec<usize>>> = dictionaries
        .iter()
        .map(|d| (!d.values().is_empty()).then(|| d.normalized_keys()))
        .collect();
    // A null index and an index to a null value are the same null.
    let null = (value_codes.cardinality - 1) as u32;
    Ok(fill_known_codes(
        rows,
        parts,
        value_codes.cardinality,
        |batch, row| match &keys[batch] {
            Some(keys) if dictionaries[batch].keys().is_valid(row) => {
                value_codes.codes[value_rows.starts[batch] + keys[row]]
            }
            _ => null,
        },
    ))
}

/// How a group code splits back into the codes of the key columns it was made of.
#[derive(Debug)]
enum Split {
    Column(usize),
    /// code = high × radix + low
    Radix {
        high: Box<Split>,
        low: Box<Split>,
        radix: u32,
    },
    /// code = index of (high << 32 | low) in `pairs`
    Pairs {
        high: Box<Split>,
        low: Box<Split>,
        pairs: Vec<u64>,
    },
}

impl Split {
    fn split(&self, code: u32, out: &mut [u32]) {
        match self {
            Split::Column(k) => out[*k] = code,
            Split::Radix { high, low, radix } => {
                high.split(code / radix, out);
                low.split(code % radix, out);
            }
            Split::Pairs { high, low, pairs } => {
                let pair = pairs[code as usize];
                high.split((pair >> 32) as u32, out);
                low.split(pair as u32, out);
            }
        }
    }
}

/// One code per row for the combination of all key columns.
#[derive(Debug)]
pub struct Grouping {
    pub codes: Vec<u32>,
    pub cardinality: u64,
    split: Option<Split>,
}

impl Grouping {
    /// Combines the key columns' codes: by arithmetic while the product of the cardinalities
    /// stays small enough for dense per-group arrays (as many slots as rows, or a few more for
    /// small inputs), else by numbering the pairs of codes that occur.
    /// The columns' codes are moved into the grouping (their first rows stay).
    pub fn new(columns: &mut [KeyCodes], rows: &RowSpace, parts: &[Range<usize>]) -> Grouping {
        let dense_limit = (rows.len() as u64).max(1 << 16);
        let Some((first, rest)) = columns.split_first_mut() else {
            return Grouping {
                codes: vec![0; rows.len()],
                cardinality: 1,
                split: None,
            };
        };
        let mut codes = std::mem::take(&mut first.codes);
        let mut cardinality = first.cardinality;
        let mut split = Split::Column(0);
        for (k, low) in rest.iter().enumerate() {
            let high = Box::new(split);
            let low_split = Box::new(Split::Column(k + 1));
            let product = cardinality.saturating_mul(low.cardinality);
            if product <= dense_limit {
                let radix = low.cardinality as u32;
                map_ranges_mut(&mut codes, parts, |part, chunk| {
                    for (code, low) in chunk.iter_mut().zip(&low.codes[parts[part].clone()]) {
                        *code = *code * radix + low;
                    }
                });
                cardinality = product;
                split = Split::Radix {
                    high,
                    low: low_split,
                    radix,
                };
            } else {
                let (paired, pairs) = encode_hashed(
                    &[Pairs {
                        high: &codes,
                        low: &low.codes,
                    }],
                    &RowSpace::new([rows.len()]),
                    parts,
                    // Pairs are numbered when they are many: nearly one a row.
                    rows.len() / parts.len().max(1),
                );
                codes = paired.codes;
                cardinality = paired.cardinality;
                split = Split::Pairs {
                    high,
                    low: low_split,
                    pairs,
                };
            }
        }
        Grouping {
            codes,
            cardinality,
            split: Some(split),
        }
    }

    /// For each key column, its code in each of `groups`.
    pub fn key_codes(&self, groups: &[u32], keys: usize) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::with_capacity(groups.len()); keys];
        let mut codes = vec![0u32; keys];
        if let Some(split) = &self.split {
            for &group in groups {
                split.split(group, &mut codes);
                for (column, code) in out.iter_mut().zip(&codes) {
                    column.push(*code);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn equal_values_get_equal_codes_across_batches_and_parts() {
        let arrays = [
            strings(&[Some("a"), None, Some("b")]),
            strings(&[Some("b"), Some("a"), None]),
        ];
        let rows = RowSpace::new([3, 3]);
        for parts in [1, 2, 3] {
            let k = encode(&arrays, &rows, &ranges(6, parts)).unwrap();
            let c = &k.codes;
            assert_eq!(k.cardinality, 3);
            assert!(c[0] == c[4] && c[2] == c[3] && c[1] == c[5] && c[0] != c[2]);
            assert_eq!(c[1], 2, "null is the last code");
            assert_eq!(k.first_rows[c[0] as usize], 0);
            assert_eq!(k.first_rows[c[2] as usize], 2);
            assert_eq!(k.first_rows[2], 1);
        }
    }

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

    #[test]
    fn short_integer_ranges_are_offsets_and_wide_ones_are_numbered() {
        let rows = RowSpace::new([4]);
        let narrow: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(105),
            Some(100),
            None,
            Some(105),
        ]));
        let k = encode(&[narrow], &rows, &ranges(4, 2)).unwrap();
        assert_eq!((k.codes, k.cardinality), (vec![5, 0, 6, 5], 7));
        assert_eq!(k.first_rows, [1, NO_ROW, NO_ROW, NO_ROW, NO_ROW, 0, 2]);
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, i64::MIN, i64::MAX, 0]));
        let k = encode(&[wide], &rows, &ranges(4, 2)).unwrap();
        assert_eq!((k.codes, k.cardinality), (vec![0, 1, 0, 2], 4));
    }

    #[test]
    fn group_codes_split_back_into_key_codes() {
        let rows = RowSpace::new([4]);
        let parts = ranges(4, 2);
        let column = |codes: Vec<u32>, cardinality| KeyCodes {
            codes,
            cardinality,
            first_rows: Vec::new(),
        };
        let mut small = [column(vec![0, 1, 2, 1], 3), column(vec![1, 0, 1, 0], 2)];
        let grouping = Grouping::new(&mut small, &rows, &parts);
        assert_eq!(
            (grouping.cardinality, grouping.codes.clone()),
            (6, vec![1, 2, 5, 2])
        );
        assert_eq!(grouping.key_codes(&[5, 2], 2), [vec![2, 1], vec![1, 0]]);
        // Cardinalities whose product exceeds the dense limit are paired by numbering.
        let mut big = [
            column(vec![70_000, 1, 70_000, 3], 70_001),
            column(vec![9, 70_000, 9, 0], 70_001),
        ];
        let grouping = Grouping::new(&mut big, &rows, &parts);
        assert_eq!(grouping.codes, [0, 1, 0, 2]);
        assert_eq!(
            grouping.key_codes(&[1, 2, 0], 2),
            [vec![1, 3, 70_000], vec![70_000, 0, 9]]
        );
        let none = Grouping::new(&mut [], &rows, &parts);
        assert_eq!((none.codes, none.cardinality), (vec![0; 4], 1));
    }
}
