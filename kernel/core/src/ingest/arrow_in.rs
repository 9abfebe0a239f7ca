//! One Arrow IPC stream whose columns are named like the CSV header. A batch whose columns
//! have the fact schema's types and whose values are all valid is taken column by column (see
//! arrow_columns); any other is read row by row: typed columns as their types (integers,
//! decimals exactly by scale, dates), strings parsed like CSV.

use std::panic::AssertUnwindSafe;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::Buffer;
use arrow::compute::cast;
use arrow::datatypes::Schema;
use arrow::datatypes::{
    i256, DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Float32Type,
    Float64Type, Int64Type, UInt64Type,
};
use arrow::ipc::reader::StreamDecoder;
use arrow::record_batch::RecordBatch;

use super::arrow_columns;
use super::rows::RowSink;
use super::source::{Binding, Layout, Read};
use super::validate::Cell;
use super::{Drift, PayloadError};
use crate::schema::FactField;

const MILLIS_PER_DAY: i64 = 86_400_000;

fn unreadable(e: arrow::error::ArrowError) -> PayloadError {
    PayloadError::unreadable(format!(
        "the payload is not a readable Arrow IPC stream: {e}"
    ))
}

/// What reading a stream needs once its schema is known.
struct Reading {
    names: Vec<String>,
    layout: Layout,
    plan: Option<arrow_columns::Plan>,
}

impl Reading {
    fn new(schema: &Schema, sink: &RowSink) -> Result<Reading, PayloadError> {
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name().trim().to_owned())
            .collect();
        let layout = sink.mapping().layout(&names)?;
        for &(i, binding) in &layout.bound {
            check_type(&names[i], schema.field(i).data_type(), binding)?;
        }
        let plan = arrow_columns::plan(schema, &layout, sink.mapping());
        Ok(Reading {
            names,
            layout,
            plan,
        })
    }

    fn batch(&self, batch: RecordBatch, sink: &mut RowSink) -> Result<(), PayloadError> {
        if let Some(facts) = self
            .plan
            .as_ref()
            .and_then(|p| arrow_columns::facts(p, &batch))
        {
            return sink.accept_facts(facts);
        }
        let columns = self
            .layout
            .bound
            .iter()
            .map(|&(i, binding)| {
                Ok((
                    self.names[i].as_str(),
                    binding,
                    Column::new(batch.column(i)).map_err(unreadable)?,
                ))
            })
            .collect::<Result<Vec<_>, PayloadError>>()?;
        for row in 0..batch.num_rows() {
            sink.begin_row(0);
            for (name, binding, column) in &columns {
                sink.cell(name, *binding, column.cell(row));
            }
            sink.end_row();
        }
        Ok(())
    }
}

/// Reads every row of every batch into `sink`; returns the payload's drift.
///
/// The arrow crate's IPC reader panics on some malformed metadata (a buffer said to lie past
/// the end of its message): such a payload is unreadable, and the panic stops here instead of
/// reaching the caller. Nothing of the payload is kept then, so a half-filled `sink` is moot.
pub fn read(payload: &[u8], sink: &mut RowSink) -> Result<Drift, PayloadError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| read_stream(payload, sink))).unwrap_or_else(|_| {
        Err(PayloadError::unreadable(
            "the payload is not a readable Arrow IPC stream: its metadata is malformed",
        ))
    })
}

/// The push decoder takes buffers as slices of the payload and never allocates by a length the
/// stream claims, so a forged length is an error, not a huge allocation.
fn read_stream(payload: &[u8], sink: &mut RowSink) -> Result<Drift, PayloadError> {
    let mut decoder = StreamDecoder::new();
    let mut buffer = Buffer::from(payload);
    let mut reading: Option<Reading> = None;
    while !buffer.is_empty() {
        let batch = decoder.decode(&mut buffer).map_err(unreadable)?;
        if reading.is_none() {
            if let Some(schema) = decoder.schema() {
                reading = Some(Reading::new(&schema, sink)?);
            }
        }
        if let (Some(batch), Some(reading)) = (batch, &reading) {
            reading.batch(batch, sink)?;
        }
    }
    decoder.finish().map_err(unreadable)?;
    let reading = reading.ok_or_else(|| {
        PayloadError::unreadable("the payload is not a readable Arrow IPC stream: it has no schema")
    })?;
    Ok(Drift {
        ignored: reading.layout.ignored,
        missing: reading.layout.missing,
    })
}

/// What an Arrow type holds, as far as fact fields care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Text,
    Integer,
    Float,
    Decimal,
    Date,
}

fn kind(data_type: &DataType) -> Option<Kind> {
    use DataType::*;
    Some(match data_type {
        Null => Kind::Null,
        Utf8 | LargeUtf8 | Utf8View => Kind::Text,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Kind::Integer,
        Float32 | Float64 => Kind::Float,
        Decimal128(..) | Decimal256(..) => Kind::Decimal,
        Date32 | Date64 => Kind::Date,
        Dictionary(_, values) => return kind(values),
        _ => return None,
    })
}

/// Refuses a column whose type cannot give its field, before any row is read: such a column
/// would fail every row the same way.
fn check_type(name: &str, data_type: &DataType, binding: Binding) -> Result<(), PayloadError> {
    let money = matches!(
        binding.field,
        FactField::Cost | FactField::Conversions | FactField::Revenue
    );
    let date = binding.field == FactField::Date;
    let fits = match (kind(data_type), binding.read) {
        (Some(Kind::Null | Kind::Text), _) => true,
        (Some(Kind::Integer), Read::Natural | Read::Micros) => !date,
        (Some(Kind::Integer), Read::DatePart(_)) => true,
        (Some(Kind::Float | Kind::Decimal), Read::Natural) => money,
        (Some(Kind::Date), Read::Natural | Read::DateTime) => date,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(PayloadError::unsupported_column_type(format!(
            "column '{name}' is of Arrow type {data_type}, which cannot give {}",
            binding.field.name()
        )))
    }
}

/// A column with its type resolved once per batch, so reading a cell is one match.
enum Column {
    Null,
    Utf8(arrow::array::StringArray),
    LargeUtf8(arrow::array::LargeStringArray),
    Utf8View(arrow::array::StringViewArray),
    Int(arrow::array::Int64Array),
    UInt(arrow::array::UInt64Array),
    F64(arrow::array::Float64Array),
    F32(arrow::array::Float32Array),
    Decimal128(arrow::array::Decimal128Array, i8),
    Decimal256(arrow::array::Decimal256Array, i8),
    Date32(arrow::array::Date32Array),
    Date64(arrow::array::Date64Array),
}

impl Column {
    /// Dictionaries are decoded and narrow integers widened, leaving few cases to read.
    fn new(array: &ArrayRef) -> Result<Column, arrow::error::ArrowError> {
        use DataType::*;
        let array = match array.data_type() {
            Dictionary(_, values) => return Column::new(&cast(array, values)?),
            Int8 | Int16 | Int32 => cast(array, &Int64)?,
            UInt8 | UInt16 | UInt32 => cast(array, &UInt64)?,
            _ => array.clone(),
        };
        Ok(match *array.data_type() {
            Utf8 => Column::Utf8(array.as_string::<i32>().clone()),
            LargeUtf8 => Column::LargeUtf8(array.as_string::<i64>().clone()),
            Utf8View => Column::Utf8View(array.as_string_view().clone()),
            Int64 => Column::Int(array.as_primitive::<Int64Type>().clone()),
            UInt64 => Column::UInt(array.as_primitive::<UInt64Type>().clone()),
            Float64 => Column::F64(array.as_primitive::<Float64Type>().clone()),
            Float32 => Column::F32(array.as_primitive::<Float32Type>().clone()),
            Decimal128(_, scale) => {
                Column::Decimal128(array.as_primitive::<Decimal128Type>().clone(), scale)
            }
            Decimal256(_, scale) => {
                Column::Decimal256(array.as_primitive::<Decimal256Type>().clone(), scale)
            }
            Date32 => Column::Date32(array.as_primitive::<Date32Type>().clone()),
            Date64 => Column::Date64(array.as_primitive::<Date64Type>().clone()),
            // `check_type` lets no other type through.
            _ => Column::Null,
        })
    }

    fn array(&self) -> Option<&dyn Array> {
        Some(match self {
            Column::Null => return None,
            Column::Utf8(a) => a,
            Column::LargeUtf8(a) => a,
            Column::Utf8View(a) => a,
            Column::Int(a) => a,
            Column::UInt(a) => a,
            Column::F64(a) => a,
            Column::F32(a) => a,
            Column::Decimal128(a, _) => a,
            Column::Decimal256(a, _) => a,
            Column::Date32(a) => a,
            Column::Date64(a) => a,
        })
    }

    fn cell(&self, row: usize) -> Cell<'_> {
        match self.array() {
            Some(array) if array.is_valid(row) => {}
            _ => return Cell::Null,
        }
        match self {
            Column::Null => Cell::Null,
            Column::Utf8(a) => Cell::Text(a.value(row).as_bytes()),
            Column::LargeUtf8(a) => Cell::Text(a.value(row).as_bytes()),
            Column::Utf8View(a) => Cell::Text(a.value(row).as_bytes()),
            Column::Int(a) => Cell::Int(i128::from(a.value(row))),
            Column::UInt(a) => Cell::Int(i128::from(a.value(row))),
            Column::F64(a) => Cell::F64(a.value(row)),
            Column::F32(a) => Cell::F32(a.value(row)),
            Column::Decimal128(a, scale) => Cell::Decimal {
                unscaled: i256::from_i128(a.value(row)),
                scale: *scale,
            },
            Column::Decimal256(a, scale) => Cell::Decimal {
                unscaled: a.value(row),
                scale: *scale,
            },
            Column::Date32(a) => Cell::Day(i64::from(a.value(row))),
            Column::Date64(a) => Cell::Day(a.value(row).div_euclid(MILLIS_PER_DAY)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Date64Array, Decimal128Array, DictionaryArray, Float32Array, Float64Array, Int32Array,
        Int64Array, Int8Array, RecordBatch, StringArray, StringViewArray, UInt8Array,
    };
    use arrow::datatypes::{Int64Type, Int8Type};
    use arrow::ipc::writer::StreamWriter;

    use super::*;
    use crate::ingest::test_support::error_places;
    use crate::ingest::test_support::parse_batch;
    use crate::ingest::{ParsedBatch, PayloadErrorCode};

    fn ipc(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut out = Vec::new();
        let mut writer = StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
        writer.write(&batch).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        out
    }

    fn strings(values: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    /// Two rows, typed the way a Python client's Arrow tends to be.
    fn typed_columns() -> Vec<(&'static str, ArrayRef)> {
        let platform: DictionaryArray<Int8Type> = vec!["google", "Meta"].into_iter().collect();
        vec![
            (
                "date",
                Arc::new(Date64Array::from(vec![
                    20_000 * MILLIS_PER_DAY,
                    20_001 * MILLIS_PER_DAY,
                ])) as ArrayRef,
            ),
            ("platform", Arc::new(platform)),
            ("account_id", Arc::new(Int64Array::from(vec![123, 456]))),
            (
                "campaign_id",
                Arc::new(StringViewArray::from(vec!["c1", "c2"])),
            ),
            (
                "ad_group_id",
                Arc::new(DictionaryArray::new(
                    Int8Array::from(vec![0, 0]),
                    Arc::new(Int32Array::from(vec![42])),
                )),
            ),
            ("ad_id", Arc::new(UInt8Array::from(vec![7, 8]))),
            ("currency", strings(&["eur", "EUR"])),
            (
                "impressions",
                Arc::new(Int32Array::from(vec![Some(10), None])),
            ),
            ("clicks", Arc::new(Int64Array::from(vec![1, 2]))),
            (
                "cost_micros",
                Arc::new(Int64Array::from(vec![1_500_000, 3])),
            ),
            ("conversions", Arc::new(Float32Array::from(vec![0.1, 2.5]))),
            (
                "revenue",
                Arc::new(
                    Decimal128Array::from(vec![12345, 1])
                        .with_precision_and_scale(10, 3)
                        .unwrap(),
                ),
            ),
        ]
    }

    fn parse(payload: &[u8]) -> ParsedBatch {
        parse_batch(payload, "arrow_ipc", "generic", 100).unwrap()
    }

    #[test]
    fn typed_columns_are_read_by_type() {
        let batch = parse(&ipc(typed_columns()));
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(batch.rows_total, 4);
        assert_eq!(batch.rows_superseded, 2);
        let facts = &batch.facts;
        let ints = |i: usize| {
            facts
                .column(i)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        };
        assert_eq!(ints(8), [10, 0]);
        assert_eq!(ints(10), [1_500_000, 3]);
        assert_eq!(ints(11), [100_000, 2_500_000]);
        assert_eq!(ints(12), [12_345_000, 1_000]);
        assert_eq!(
            facts
                .column(0)
                .as_primitive::<Date32Type>()
                .values()
                .to_vec(),
            [20_000, 20_001]
        );
        assert_eq!(facts.column(2).as_string::<i32>().value(0), "123");
        assert_eq!(facts.column(6).as_string::<i32>().value(1), "8");
        assert_eq!(facts.column(5).as_string::<i32>().value(0), "42");
        assert_eq!(facts.column(1).as_string::<i32>().value(1), "meta_ads");
    }

    #[test]
    fn bad_values_are_row_errors_with_row_numbers_across_batches() {
        let mut columns = typed_columns();
        columns[9] = ("cost_micros", Arc::new(Int64Array::from(vec![-1, 3])));
        columns[10] = (
            "conversions",
            Arc::new(Float64Array::from(vec![f64::NAN, 1.0])),
        );
        columns[1] = ("platform", strings(&["google", ""]));
        let batch = parse(&ipc(columns));
        assert_eq!(
            error_places(&batch),
            [
                (1, 0, "cost_micros"),
                (1, 0, "conversions"),
                (2, 0, "platform"),
                (3, 0, "cost_micros"),
                (3, 0, "conversions"),
                (4, 0, "platform")
            ]
        );
        assert_eq!(batch.errors[1].reason, "'NaN' is not a finite number");
        assert_eq!(batch.errors[0].reason, "must not be negative, got '-1'");
    }

    #[test]
    fn layout_errors_refuse_the_payload() {
        let mut columns = typed_columns();
        columns.push(("cost", strings(&["1", "2"])));
        assert_eq!(
            parse_batch(&ipc(columns), "arrow_ipc", "generic", 10)
                .unwrap_err()
                .code,
            PayloadErrorCode::DuplicateColumns
        );
        let mut columns = typed_columns();
        columns[8] = ("clicks", Arc::new(Float64Array::from(vec![1.0, 2.0])));
        let err = parse_batch(&ipc(columns), "arrow_ipc", "generic", 10).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnsupportedColumnType);
        assert_eq!(
            err.message,
            "column 'clicks' is of Arrow type Float64, which cannot give clicks"
        );
        let mut columns = typed_columns();
        columns.remove(0);
        assert_eq!(
            parse_batch(&ipc(columns), "arrow_ipc", "generic", 10)
                .unwrap_err()
                .code,
            PayloadErrorCode::MissingColumns
        );
        let err = parse_batch(b"not arrow", "arrow_ipc", "generic", 10).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnreadablePayload);
        let mut truncated = ipc(typed_columns());
        truncated.truncate(truncated.len() - 100);
        let err = parse_batch(&truncated, "arrow_ipc", "generic", 10).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnreadablePayload);
    }
}
