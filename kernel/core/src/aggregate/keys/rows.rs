//! One row numbering across the batches of a table.

use std::ops::Range;

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

    /// The global row number of a batch's first row.
    pub fn start(&self, batch: usize) -> usize {
        self.starts[batch]
    }

    /// (batch, row in the batch) of a global row.
    pub fn locate(&self, row: usize) -> (usize, usize) {
        let batch = self.starts.partition_point(|s| *s <= row) - 1;
        (batch, row - self.starts[batch])
    }
}
