//! Key columns as dense codes: every distinct value of a column (null included) gets a number
//! in `0..cardinality`, so groups can be found by arithmetic instead of hashing whole rows.

mod fill;
mod grouping;
mod numbering;
mod rows;

use std::hash::Hash;
use std::ops::Range;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::datatypes::*;

use super::AggregateError;
use crate::parallel::ranges;
use fill::fill_known_codes;
pub use grouping::Grouping;
use numbering::{encode_hashed, Values};
pub use rows::RowSpace;

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
                value_codes.codes[value_rows.start(batch) + keys[row]]
            }
            _ => null,
        },
    ))
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
}
