//! Accepted rows gathered column by column (or whole batches that were valid as they came),
//! then deduplicated on the fact key into the fact schema's record batch.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int64Array, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::record_batch::RecordBatch;

use super::dedup::last_of_each_key;
use super::validate::Draft;
use super::PayloadError;
use crate::currency::Currency;
use crate::platform::Platform;
use crate::schema::fact_schema;

/// Text of one column, appended value after value (offsets are 64-bit until the end so that an
/// oversized batch is refused instead of wrapping).
#[derive(Debug)]
struct TextColumn {
    offsets: Vec<i64>,
    bytes: Vec<u8>,
}

impl Default for TextColumn {
    fn default() -> Self {
        TextColumn {
            offsets: vec![0],
            bytes: Vec::new(),
        }
    }
}

impl TextColumn {
    fn push(&mut self, value: &str) {
        self.bytes.extend_from_slice(value.as_bytes());
        self.offsets.push(self.bytes.len() as i64);
    }

    fn finish(self, name: &str) -> Result<ArrayRef, PayloadError> {
        let too_large = || {
            PayloadError::unreadable(format!("the batch holds more than 2 GiB of text in {name}"))
        };
        let offsets = self
            .offsets
            .into_iter()
            .map(|o| i32::try_from(o).map_err(|_| too_large()))
            .collect::<Result<Vec<i32>, _>>()?;
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let array = StringArray::try_new(offsets, Buffer::from_vec(self.bytes), None)
            .map_err(|e| PayloadError::unreadable(e.to_string()))?;
        Ok(Arc::new(array))
    }
}

/// Rows accepted one by one, not yet made a batch.
#[derive(Debug, Default)]
struct Rows {
    date: Vec<i32>,
    platform: Vec<Platform>,
    text: [TextColumn; 5],
    currency: Vec<Currency>,
    measures: [Vec<i64>; 5],
}

impl Rows {
    fn finish(self) -> Result<RecordBatch, PayloadError> {
        let Rows {
            date,
            platform,
            text,
            currency,
            measures,
        } = self;
        let names = [
            "account_id",
            "campaign_id",
            "campaign_name",
            "ad_group_id",
            "ad_id",
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(date)),
            Arc::new(StringArray::from_iter_values(
                platform.iter().map(|p| p.name()),
            )),
        ];
        for (column, name) in text.into_iter().zip(names) {
            columns.push(column.finish(name)?);
        }
        columns.push(Arc::new(StringArray::from_iter_values(
            currency.iter().map(|c| c.code()),
        )));
        columns.extend(measures.map(|m| Arc::new(Int64Array::from(m)) as ArrayRef));
        RecordBatch::try_new(fact_schema(), columns)
            .map_err(|e| PayloadError::unreadable(e.to_string()))
    }
}

#[derive(Debug, Default)]
pub struct FactBuilder {
    rows: Rows,
    /// Batches in payload order; `rows` come after them.
    chunks: Vec<RecordBatch>,
}

impl FactBuilder {
    pub fn push(&mut self, row: &Draft) {
        let rows = &mut self.rows;
        rows.date.push(row.date);
        rows.platform.push(row.platform);
        rows.currency.push(row.currency);
        for (column, value) in rows.text.iter_mut().zip(&row.text) {
            column.push(value);
        }
        for (column, value) in rows.measures.iter_mut().zip(row.measures) {
            column.push(value);
        }
    }

    /// A batch already in the fact schema, after the rows pushed so far.
    pub fn push_batch(&mut self, batch: RecordBatch) -> Result<(), PayloadError> {
        self.flush()?;
        self.chunks.push(batch);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PayloadError> {
        if !self.rows.date.is_empty() {
            self.chunks.push(std::mem::take(&mut self.rows).finish()?);
        }
        Ok(())
    }

    /// The fact batch, with every row whose key a later row repeats left out, and how many
    /// such rows there were.
    pub fn finish(mut self) -> Result<(RecordBatch, u64), PayloadError> {
        self.flush()?;
        let arrow_error = |e: arrow::error::ArrowError| PayloadError::unreadable(e.to_string());
        let batch = match self.chunks.len() {
            0 => RecordBatch::new_empty(fact_schema()),
            1 => self.chunks.pop().unwrap_or_else(|| unreachable!()),
            _ => concat_batches(&fact_schema(), &self.chunks).map_err(arrow_error)?,
        };
        let keep = last_of_each_key(&batch, crate::worker_threads());
        let superseded = keep.iter().filter(|k| !**k).count() as u64;
        if superseded == 0 {
            return Ok((batch, 0));
        }
        let filtered =
            filter_record_batch(&batch, &BooleanArray::from(keep)).map_err(arrow_error)?;
        Ok((filtered, superseded))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use super::*;

    fn draft(campaign: &str, ad: &str, date: i32, clicks: i64) -> Draft {
        let mut d = Draft::default();
        d.date = date;
        d.text = [
            "acc".into(),
            campaign.into(),
            format!("name {clicks}"),
            "g".into(),
            ad.into(),
        ];
        d.measures = [10, clicks, 0, 0, 0];
        d
    }

    #[test]
    fn the_last_row_of_a_key_wins() {
        let mut b = FactBuilder::default();
        b.push(&draft("c1", "a1", 20_000, 1));
        b.push(&draft("c1", "a2", 20_000, 2));
        b.push(&draft("c1", "a1", 20_000, 3));
        b.push(&draft("c1", "a1", 20_001, 4));
        b.push(&draft("c1", "a1", 20_000, 5));
        let (batch, superseded) = b.finish().unwrap();
        assert_eq!(superseded, 2);
        let clicks: Vec<i64> = batch
            .column(9)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        assert_eq!(clicks, [2, 4, 5]);
        assert_eq!(batch.schema(), fact_schema());
    }

    #[test]
    fn the_campaign_name_is_not_part_of_the_key_and_text_is_not_confused_across_fields() {
        let mut b = FactBuilder::default();
        let mut one = draft("c1", "a1", 20_000, 1);
        let mut two = draft("c1", "a1", 20_000, 2);
        one.text[2] = "old name".into();
        two.text[2] = "new name".into();
        b.push(&one);
        b.push(&two);
        // "ab" + "c" and "a" + "bc" must be different keys.
        b.push(&draft("ab", "c", 20_000, 3));
        b.push(&draft("a", "bc", 20_000, 4));
        let (batch, superseded) = b.finish().unwrap();
        assert_eq!(superseded, 1);
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.column(4).as_string::<i32>().value(0), "new name");
    }

    #[test]
    fn an_empty_batch_has_the_fact_schema() {
        let (batch, superseded) = FactBuilder::default().finish().unwrap();
        assert_eq!((batch.num_rows(), superseded), (0, 0));
        assert_eq!(batch.schema(), fact_schema());
    }
}
