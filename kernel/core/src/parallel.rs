//! Splitting work over a few scoped threads: contiguous parts, results in part order.

use std::ops::Range;

/// Parts smaller than this are not worth a thread.
const MIN_ROWS_PER_PART: usize = 1 << 16;

/// Threads to use: `ADPULSE_KERNEL_THREADS` if set to a positive number, else one per core.
pub fn worker_threads() -> usize {
    std::env::var("ADPULSE_KERNEL_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// How many parts `rows` rows are worth with `threads` threads (at least one).
pub fn parts_for(rows: usize, threads: usize) -> usize {
    threads.min(rows.div_ceil(MIN_ROWS_PER_PART)).max(1)
}

/// `0..n` cut into `parts` contiguous ranges of nearly equal length.
pub fn ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    (0..parts)
        .map(|p| n * p / parts..n * (p + 1) / parts)
        .collect()
}

/// Runs `f` on each item, all but the first on threads of their own; results in item order.
pub fn map_each<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else {
        return Vec::new();
    };
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items.map(|item| scope.spawn(move || f(item))).collect();
        let mut results = vec![f(first)];
        results.extend(
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        );
        results
    })
}

/// Runs `f(part, stretch)` for each of the contiguous `ranges` (from 0), where `stretch` is the
/// part's own stretch of `out` (indexed from the range start).
pub fn map_ranges_mut<T: Send, R: Send>(
    out: &mut [T],
    ranges: &[Range<usize>],
    f: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let mut chunks = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for (part, range) in ranges.iter().enumerate() {
        let (chunk, tail) = rest.split_at_mut(range.len());
        chunks.push((part, chunk));
        rest = tail;
    }
    map_each(chunks, |(part, chunk)| f(part, chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once_in_order() {
        for (n, parts) in [(0, 1), (1, 3), (10, 3), (1000, 7)] {
            let rs = ranges(n, parts);
            assert_eq!(rs.len(), parts);
            assert_eq!(rs.first().unwrap().start, 0);
            assert_eq!(rs.last().unwrap().end, n);
            assert!(rs.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    #[test]
    fn results_come_back_in_part_order() {
        let rs = ranges(100, 4);
        assert_eq!(map_each(rs.clone(), |r| r.start), [0, 25, 50, 75]);
        let mut out = vec![0usize; 100];
        let sums = map_ranges_mut(&mut out, &rs, |part, chunk| {
            for (i, slot) in chunk.iter_mut().enumerate() {
                *slot = rs[part].start + i;
            }
            chunk.len()
        });
        assert_eq!(sums, [25; 4]);
        assert!(out.iter().enumerate().all(|(i, v)| i == *v));
    }

    #[test]
    fn small_inputs_get_one_part() {
        assert_eq!(parts_for(10, 8), 1);
        assert_eq!(parts_for(0, 8), 1);
        assert_eq!(parts_for(10_000_000, 2), 2);
    }
}
