//! The column-wise path for Arrow batches whose columns already have the fact schema's types
//! (date32 dates, utf8 text, int64 counts and micros, decimal money): each column is checked
//! as a whole, with loops the compiler vectorises, and a batch whose every value passes
//! becomes facts without copying its columns. A batch with anything to report (a bad value, a
//! null, an alias to normalise, more clicks than impressions) goes the row-by-row way instead,
//! which says exactly what and where; both paths accept the same rows the same way.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;

use super::source::{Binding, Fill, Layout, Mapping, Read};
use crate::currency::Currency;
use crate::date::{FIRST_DAY, LAST_DAY};
use crate::money::{COUNT, MICROS};
use crate::platform::Platform;
use crate::schema::{fact_schema, FactField};

const MAX_ID_BYTES: usize = 256;
const MAX_NAME_BYTES: usize = 1024;

/// Where a fact field comes from in every batch of a payload.
#[derive(Debug, Clone)]
enum From {
    /// The input column at this index, as it is (after checks).
    Column(usize),
    /// Money in currency units from a decimal column at this index, with this scale.
    Decimal(usize, i8),
    /// The column of another id level (the export lacks this level).
    Level(FactField),
    Constant(&'static str),
    Text(String),
    Empty,
}

/// How a payload's batches become facts column by column; None when some column needs the
/// row-by-row path for every row (a type to convert, a value to compute).
#[derive(Debug)]
pub struct Plan {
    from: Vec<From>,
}

pub fn plan(schema: &Schema, layout: &Layout, mapping: &Mapping) -> Option<Plan> {
    let mut from = Vec::with_capacity(FactField::ALL.len());
    for field in FactField::ALL {
        let bound = layout.bound.iter().find(|(_, b)| b.field == field);
        from.push(match bound {
            Some(&(i, binding)) => column_from(i, schema.field(i).data_type(), binding)?,
            None => fill_from(field, layout, mapping)?,
        });
    }
    Some(Plan { from })
}

fn column_from(i: usize, data_type: &DataType, binding: Binding) -> Option<From> {
    use FactField as F;
    let direct = match (binding.field, binding.read, data_type) {
        (F::Date, Read::Natural, DataType::Date32) => true,
        (F::Impressions | F::Clicks, Read::Natural, DataType::Int64) => true,
        (F::Cost | F::Conversions | F::Revenue, Read::Micros, DataType::Int64) => true,
        (F::Cost | F::Conversions | F::Revenue, Read::Natural, DataType::Decimal128(_, scale)) => {
            return Some(From::Decimal(i, *scale));
        }
        (
            F::Platform
            | F::AccountId
            | F::CampaignId
            | F::CampaignName
            | F::AdGroupId
            | F::AdId
            | F::Currency,
            Read::Natural,
            DataType::Utf8,
        ) => true,
        _ => false,
    };
    direct.then_some(From::Column(i))
}

fn fill_from(field: FactField, layout: &Layout, mapping: &Mapping) -> Option<From> {
    Some(match &mapping.fills[field.index()] {
        Fill::Empty => From::Empty,
        Fill::Platform(p) => From::Constant(p.name()),
        Fill::Currency(c) => From::Constant(c.code()),
        Fill::Text(text) => From::Text(text.clone()),
        Fill::Hierarchy => {
            // Every row has the levels the payload has columns for: the nearest, parent first.
            let levels = [FactField::CampaignId, FactField::AdGroupId, FactField::AdId];
            let at = levels.iter().position(|l| *l == field)?;
            let has = |l: &FactField| layout.bound.iter().any(|(_, b)| b.field == *l);
            let nearest = levels[..at]
                .iter()
                .rev()
                .chain(&levels[at + 1..])
                .find(|l| has(l))?;
            From::Level(*nearest)
        }
        Fill::Refuse | Fill::GroupAccount => return None,
    })
}

/// The batch as facts, if every value of it is valid as it stands.
pub fn facts(plan: &Plan, batch: &RecordBatch) -> Option<RecordBatch> {
    let rows = batch.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(plan.from.len());
    for (field, from) in FactField::ALL.into_iter().zip(&plan.from) {
        let column = match from {
            From::Column(i) => checked(field, batch.column(*i))?,
            From::Decimal(i, scale) => decimal_micros(batch.column(*i), *scale)?,
            // Levels come before the ones filled from them only when the parent is the source,
            // so take the checked column wherever it is.
            From::Level(level) => match &plan.from[level.index()] {
                From::Column(i) => checked(*level, batch.column(*i))?,
                _ => return None,
            },
            From::Constant(text) => repeated(text, rows),
            From::Text(text) => repeated(text, rows),
            From::Empty if is_measure(field) => Arc::new(Int64Array::from(vec![0; rows])),
            From::Empty => repeated("", rows),
        };
        columns.push(column);
    }
    let [impressions, clicks] = [8, 9].map(|i| columns[i].as_primitive::<Int64Type>().values());
    if impressions.iter().zip(clicks.iter()).any(|(i, c)| c > i) {
        return None;
    }
    RecordBatch::try_new(fact_schema(), columns).ok()
}

fn is_measure(field: FactField) -> bool {
    field.index() >= FactField::Impressions.index()
}

fn repeated(text: &str, rows: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        text, rows,
    )))
}

/// The column itself when every value is valid and already normalised.
fn checked(field: FactField, column: &ArrayRef) -> Option<ArrayRef> {
    use FactField as F;
    if column.null_count() > 0 {
        return None;
    }
    let valid = match field {
        F::Date => {
            let days = column.as_primitive::<Date32Type>().values();
            days.iter().all(|d| (FIRST_DAY..=LAST_DAY).contains(d))
        }
        F::Impressions | F::Clicks => within(column, COUNT.max),
        F::Cost | F::Conversions | F::Revenue => within(column, MICROS.max),
        F::Platform => canonical(column.as_string::<i32>(), |v| {
            Platform::parse(v.as_bytes()).is_some_and(|p| p.name() == v)
        }),
        F::Currency => canonical(column.as_string::<i32>(), |v| {
            Currency::parse(v.as_bytes()).is_ok_and(|c| c.code() == v)
        }),
        F::CampaignName => text_ok(column.as_string::<i32>(), 0, MAX_NAME_BYTES, false),
        F::AccountId | F::CampaignId | F::AdGroupId | F::AdId => {
            text_ok(column.as_string::<i32>(), 1, MAX_ID_BYTES, true)
        }
    };
    valid.then(|| column.clone())
}

fn within(column: &ArrayRef, max: i64) -> bool {
    let values = column.as_primitive::<Int64Type>().values();
    // Branch-free so it vectorises: one pass, no early exit.
    values.iter().fold(true, |ok, v| ok & (0..=max).contains(v))
}

/// Every value is its own canonical spelling; values repeat, so each new one is checked once.
fn canonical(column: &StringArray, is_canonical: impl Fn(&str) -> bool) -> bool {
    let mut last: Option<&str> = None;
    column.iter().flatten().all(|value| {
        if last == Some(value) {
            return true;
        }
        last = Some(value);
        is_canonical(value)
    })
}

/// Lengths within bounds, no surrounding white space, and for ids no control character.
fn text_ok(column: &StringArray, min: usize, max: usize, is_id: bool) -> bool {
    let offsets = column.value_offsets();
    let bytes = column.value_data();
    let trimmed = |b: &u8| !b.is_ascii_whitespace();
    let shapes_ok = offsets.windows(2).all(|w| {
        let (start, end) = (w[0] as usize, w[1] as usize);
        let value = &bytes[start..end];
        (min..=max).contains(&value.len())
            && value.first().is_none_or(trimmed)
            && value.last().is_none_or(trimmed)
    });
    if !shapes_ok || !is_id {
        return shapes_ok;
    }
    let all = &bytes[offsets[0] as usize..offsets[offsets.len() - 1] as usize];
    // C0 controls and DEL are single bytes; C1 controls (U+0080..U+009F) are 0xC2 0x80..0x9F.
    let c0 = all
        .iter()
        .fold(false, |bad, b| bad | (*b < 0x20) | (*b == 0x7f));
    !c0 && !memchr::memchr_iter(0xC2, all).any(|i| all.get(i + 1).is_some_and(|b| *b < 0xA0))
}

/// Money in currency units as decimals → micros, half to even past six decimals; None for a
/// negative value or one over the ceiling.
fn decimal_micros(column: &ArrayRef, scale: i8) -> Option<ArrayRef> {
    if column.null_count() > 0 {
        return None;
    }
    let values = column.as_primitive::<Decimal128Type>().values();
    let max = i128::from(MICROS.max);
    let mut out = Vec::with_capacity(values.len());
    if scale <= 6 {
        let factor = 10i128.checked_pow(u32::try_from(6 - i32::from(scale)).ok()?)?;
        for v in values.iter() {
            let micros = v.checked_mul(factor).filter(|m| (0..=max).contains(m))?;
            out.push(micros as i64);
        }
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(scale - 6).ok()?)?;
        for v in values.iter() {
            if *v < 0 {
                return None;
            }
            let (kept, dropped) = (v / divisor, v % divisor);
            let round_up = 2 * dropped > divisor || 2 * dropped == divisor && kept % 2 == 1;
            // The ceiling is on the exact value: 1000000000.0000001 is over it.
            if kept > max || kept == max && dropped != 0 {
                return None;
            }
            out.push((kept + i128::from(round_up)) as i64);
        }
    }
    Some(Arc::new(Int64Array::from(out)))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Decimal128Array};
    use arrow::ipc::writer::StreamWriter;
    use proptest::prelude::*;

    use super::*;
    use crate::ingest::test_support::{error_places, parse_batch};
    use crate::ingest::ParsedBatch;

    #[derive(Debug, Clone)]
    struct Row {
        date: Option<i32>,
        platform: &'static str,
        ids: [&'static str; 4],
        name: Option<&'static str>,
        currency: &'static str,
        counts: [i64; 2],
        cost_micros: Option<i64>,
        revenue: i128,
    }

    /// Mostly a good value, now and then one of the bad ones.
    fn mostly<T: Clone + std::fmt::Debug + 'static>(
        good: Vec<T>,
        bad: Vec<T>,
    ) -> impl Strategy<Value = T> + Clone {
        prop_oneof![30 => prop::sample::select(good), 1 => prop::sample::select(bad)]
    }

    fn row() -> impl Strategy<Value = Row> {
        let id = mostly(vec!["a1", "a2", "b", "é"], vec![" a1", "", "x\u{85}y"]);
        (
            prop::option::weighted(
                0.98,
                mostly(
                    vec![FIRST_DAY, FIRST_DAY + 1, 20_000],
                    vec![FIRST_DAY - 1, LAST_DAY + 1],
                ),
            ),
            mostly(vec!["google_ads", "meta_ads"], vec!["Meta", "bing"]),
            [id.clone(), id.clone(), id.clone(), id],
            prop::option::weighted(0.98, mostly(vec!["n", ""], vec![" n"])),
            mostly(vec!["EUR", "USD"], vec!["usd", "XXX"]),
            [
                mostly(vec![40i64, 50, 60], vec![-1]),
                mostly(vec![0i64, 3, 40], vec![-1, 61]),
            ],
            prop::option::weighted(
                0.98,
                mostly(vec![0i64, 1_500_000, 9_999_999], vec![-5, MICROS.max + 1]),
            ),
            prop_oneof![
                10 => 0i128..100_000_000_000,
                // Ties at scales 7 and 9, where half to even and half up differ.
                10 => prop::sample::select(vec![25i128, 35, 2_500, 3_500]),
                1 => prop::sample::select(vec![-3, 10i128.pow(19) + 1]),
            ],
        )
            .prop_map(
                |(date, platform, ids, name, currency, counts, cost_micros, revenue)| Row {
                    date,
                    platform,
                    ids,
                    name,
                    currency,
                    counts,
                    cost_micros,
                    revenue,
                },
            )
    }

    const NAMES: [&str; 13] = [
        "date",
        "platform",
        "account_id",
        "campaign_id",
        "campaign_name",
        "ad_group_id",
        "ad_id",
        "currency",
        "impressions",
        "clicks",
        "cost_micros",
        "conversions_micros",
        "revenue",
    ];

    /// The rows as an IPC stream of `batch` rows a batch: typed, or every column as text.
    fn ipc(rows: &[Row], scale: i8, typed: bool, batch: usize) -> Vec<u8> {
        let text = |values: Vec<Option<String>>| Arc::new(StringArray::from(values)) as ArrayRef;
        let strs = |f: &dyn Fn(&Row) -> Option<&str>| {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) as ArrayRef
        };
        let ints = |f: &dyn Fn(&Row) -> Option<i64>| -> ArrayRef {
            let values: Vec<Option<i64>> = rows.iter().map(f).collect();
            if typed {
                Arc::new(Int64Array::from(values))
            } else {
                text(
                    values
                        .into_iter()
                        .map(|v| v.map(|v| v.to_string()))
                        .collect(),
                )
            }
        };
        let date: ArrayRef = if typed {
            Arc::new(Date32Array::from(
                rows.iter().map(|r| r.date).collect::<Vec<_>>(),
            ))
        } else {
            text(
                rows.iter()
                    .map(|r| r.date.map(|d| crate::date::format_day(i64::from(d))))
                    .collect(),
            )
        };
        let decimals = Decimal128Array::from(rows.iter().map(|r| r.revenue).collect::<Vec<_>>())
            .with_precision_and_scale(38, scale)
            .unwrap();
        let revenue: ArrayRef = if typed {
            Arc::new(decimals)
        } else {
            text(
                (0..rows.len())
                    .map(|i| Some(decimals.value_as_string(i)))
                    .collect(),
            )
        };
        let columns = vec![
            date,
            strs(&|r| Some(r.platform)),
            strs(&|r| Some(r.ids[0])),
            strs(&|r| Some(r.ids[1])),
            strs(&|r| r.name),
            strs(&|r| Some(r.ids[2])),
            strs(&|r| Some(r.ids[3])),
            strs(&|r| Some(r.currency)),
            ints(&|r| Some(r.counts[0])),
            ints(&|r| Some(r.counts[1])),
            ints(&|r| r.cost_micros),
            ints(&|_| Some(0)),
            revenue,
        ];
        let all = RecordBatch::try_from_iter(NAMES.into_iter().zip(columns)).unwrap();
        let mut out = Vec::new();
        let mut writer = StreamWriter::try_new(&mut out, &all.schema()).unwrap();
        for start in (0..rows.len()).step_by(batch) {
            writer
                .write(&all.slice(start, batch.min(rows.len() - start)))
                .unwrap();
        }
        writer.finish().unwrap();
        drop(writer);
        out
    }

    /// Error places, then rows total, rejected and superseded, then the facts.
    type Outcome<'a> = (Vec<(u64, u64, &'a str)>, [u64; 3], &'a RecordBatch);

    fn outcome(batch: &ParsedBatch) -> Outcome<'_> {
        (
            error_places(batch),
            [batch.rows_total, batch.rows_rejected, batch.rows_superseded],
            &batch.facts,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The column-wise path accepts exactly what the row path accepts, the same way.
        #[test]
        fn typed_batches_read_as_their_text_does(
            rows in prop::collection::vec(row(), 0..40),
            scale in -2i8..10,
            batch in 1usize..12,
        ) {
            let typed = parse_batch(&ipc(&rows, scale, true, batch), "arrow_ipc", "generic", 1000).unwrap();
            let text = parse_batch(&ipc(&rows, scale, false, batch), "arrow_ipc", "generic", 1000).unwrap();
            prop_assert_eq!(outcome(&typed), outcome(&text));
        }
    }

    #[test]
    fn valid_typed_batches_take_the_column_path() {
        let rows: Vec<Row> = (0..5)
            .map(|i| Row {
                date: Some(FIRST_DAY + i),
                platform: "google_ads",
                ids: ["a1", "c", "g", ["x", "y", "z", "w", "v"][i as usize]],
                name: Some("n"),
                currency: "EUR",
                counts: [10, 2],
                cost_micros: Some(1_500_000),
                revenue: 1_234_567_891,
            })
            .collect();
        let payload = ipc(&rows, 9, true, 2);
        let mapping = Mapping::new::<&str, &str>(
            crate::ingest::source::source_named("generic").unwrap(),
            &[],
        )
        .unwrap();
        let reader =
            arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(&payload[..]), None)
                .unwrap();
        let schema = reader.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let layout = mapping.layout(&names).unwrap();
        let plan = plan(&schema, &layout, &mapping).expect("a plan for typed columns");
        for batch in reader {
            let facts = facts(&plan, &batch.unwrap()).expect("valid rows");
            // 1.234567891 → 1234567.891 micros → 1234568.
            assert_eq!(
                facts.column(12).as_primitive::<Int64Type>().value(0),
                1_234_568
            );
        }
    }
}
