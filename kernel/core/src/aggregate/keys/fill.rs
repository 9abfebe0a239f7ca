//! Writing one code per row, part by part in parallel.

use std::ops::Range;

use super::{KeyCodes, RowSpace, NO_ROW};
use crate::parallel::map_ranges_mut;

/// One code per row, computed part by part in parallel by `code(state, batch, row, global row)`,
/// where each part has a `state` of its own, returned with the codes.
pub(super) fn fill_codes<S: Send>(
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
pub(super) fn fill_known_codes(
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
