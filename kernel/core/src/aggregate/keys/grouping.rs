//! The codes of several key columns combined into one group code per row.

use std::ops::Range;

use super::numbering::{encode_hashed, Values};
use super::{KeyCodes, RowSpace};
use crate::parallel::map_ranges_mut;

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
    use super::*;
    use crate::parallel::ranges;

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
