//! Accepted rows gathered column by column, then deduplicated on the fact key into the fact
//! schema's record batch.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int64Array, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use foldhash::fast::FixedState;
use hashbrown::hash_table::{Entry, HashTable};

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

    fn get(&self, row: usize) -> &[u8] {
        &self.bytes[self.offsets[row] as usize..self.offsets[row + 1] as usize]
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

#[derive(Debug, Default)]
pub struct FactBuilder {
    date: Vec<i32>,
    platform: Vec<Platform>,
    text: [TextColumn; 5],
    currency: Vec<Currency>,
    measures: [Vec<i64>; 5],
}

/// Text slots of the key: account_id, campaign_id, ad_group_id, ad_id (not campaign_name).
const KEY_TEXT: [usize; 4] = [0, 1, 3, 4];

impl FactBuilder {
    pub fn push(&mut self, row: &Draft) {
        self.date.push(row.date);
        self.platform.push(row.platform);
        self.currency.push(row.currency);
        for (column, value) in self.text.iter_mut().zip(&row.text) {
            column.push(value);
        }
        for (column, value) in self.measures.iter_mut().zip(row.measures) {
            column.push(value);
        }
    }

    /// The fact batch, with every row whose key a later row repeats left out, and how many
    /// such rows there were.
    pub fn finish(self) -> Result<(RecordBatch, u64), PayloadError> {
        let keep = self.last_of_each_key();
        let superseded = keep.iter().filter(|k| !**k).count() as u64;
        let FactBuilder {
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
        let batch = RecordBatch::try_new(fact_schema(), columns)
            .map_err(|e| PayloadError::unreadable(e.to_string()))?;
        if superseded == 0 {
            return Ok((batch, 0));
        }
        let filtered = filter_record_batch(&batch, &BooleanArray::from(keep))
            .map_err(|e| PayloadError::unreadable(e.to_string()))?;
        Ok((filtered, superseded))
    }

    fn key_hash(&self, row: usize) -> u64 {
        let mut h = FixedState::default().build_hasher();
        self.date[row].hash(&mut h);
        self.platform[row].name().hash(&mut h);
        for slot in KEY_TEXT {
            self.text[slot].get(row).hash(&mut h);
        }
        h.finish()
    }

    fn same_key(&self, a: usize, b: usize) -> bool {
        self.date[a] == self.date[b]
            && self.platform[a] == self.platform[b]
            && KEY_TEXT
                .iter()
                .all(|&s| self.text[s].get(a) == self.text[s].get(b))
    }

    /// `keep[i]` is false when a later row has row i's key.
    fn last_of_each_key(&self) -> Vec<bool> {
        let rows = self.date.len();
        let hashes: Vec<u64> = (0..rows).map(|i| self.key_hash(i)).collect();
        let mut keep = vec![true; rows];
        let mut latest: HashTable<usize> = HashTable::with_capacity(rows);
        for row in 0..rows {
            match latest.entry(hashes[row], |&j| self.same_key(j, row), |&j| hashes[j]) {
                Entry::Occupied(mut seen) => {
                    keep[*seen.get()] = false;
                    *seen.get_mut() = row;
                }
                Entry::Vacant(slot) => {
                    slot.insert(row);
                }
            }
        }
        keep
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
