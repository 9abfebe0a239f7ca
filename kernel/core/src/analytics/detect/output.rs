//! What detection hands back: every judged day (points) and runs of anomalous days (incidents),
//! as Arrow tables with the group's key columns in front.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field};

use super::{Judged, Method};
use crate::analytics::series::{batch_of, SeriesSet};
use crate::analytics::AnalyticsError;

/// A run of consecutive anomalous days of one group in one direction.
pub(super) struct Incident {
    group: u32,
    first: usize,
    last: usize,
}

pub(super) fn incidents(judged: &[(u32, Judged)]) -> Vec<Incident> {
    let mut out: Vec<Incident> = Vec::new();
    let mut open: Option<Incident> = None;
    for (i, (g, j)) in judged.iter().enumerate() {
        if !j.anomaly {
            continue;
        }
        let up = j.observed > j.expected;
        if let Some(inc) = &mut open {
            let (pg, pj) = &judged[inc.last];
            let p_up = pj.observed > pj.expected;
            if *pg == *g && pj.day + 1 == j.day && p_up == up {
                inc.last = i;
                continue;
            }
        }
        out.extend(open.take());
        open = Some(Incident {
            group: *g,
            first: i,
            last: i,
        });
    }
    out.extend(open);
    out
}

fn direction(j: &Judged) -> Option<&'static str> {
    j.anomaly.then(|| {
        if j.observed > j.expected {
            "up"
        } else {
            "down"
        }
    })
}

pub(super) fn points_batch(
    set: &SeriesSet,
    carry: &[&str],
    judged: &[(u32, Judged)],
    provisional: &[bool],
) -> Result<RecordBatch, AnalyticsError> {
    let groups: Vec<u32> = judged.iter().map(|(g, _)| *g).collect();
    let mut columns = set.group_columns(&groups, carry)?;
    let f64s = |name: &str, f: &dyn Fn(&Judged) -> Option<f64>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(judged.iter().map(|(_, j)| f(j)).collect::<Float64Array>()),
        )
    };
    columns.push((
        Field::new("date", DataType::Date32, false),
        Arc::new(Date32Array::from_iter_values(
            judged.iter().map(|(_, j)| j.day),
        )),
    ));
    columns.push(f64s("observed", &|j| j.observed));
    columns.push(f64s("expected", &|j| j.expected));
    columns.push(f64s("lower", &|j| j.lower));
    columns.push(f64s("upper", &|j| j.upper));
    columns.push(f64s("score", &|j| j.score));
    columns.push((
        Field::new("anomaly", DataType::Boolean, false),
        Arc::new(BooleanArray::from_iter(
            judged.iter().map(|(_, j)| Some(j.anomaly)),
        )),
    ));
    columns.push((
        Field::new("direction", DataType::Utf8, true),
        Arc::new(StringArray::from_iter(
            judged.iter().map(|(_, j)| direction(j)),
        )),
    ));
    columns.push((
        Field::new("severity", DataType::UInt32, true),
        Arc::new(UInt32Array::from_iter(
            judged
                .iter()
                .map(|(_, j)| j.anomaly.then_some(u32::from(j.severity))),
        )),
    ));
    columns.push((
        Field::new("method", DataType::Utf8, true),
        Arc::new(StringArray::from_iter(
            judged.iter().map(|(_, j)| j.method.map(Method::name)),
        )),
    ));
    columns.push((
        Field::new("provisional", DataType::Boolean, false),
        Arc::new(BooleanArray::from_iter(
            provisional.iter().map(|p| Some(*p)),
        )),
    ));
    batch_of(columns)
}

pub(super) fn incidents_batch(
    set: &SeriesSet,
    carry: &[&str],
    judged: &[(u32, Judged)],
    provisional: &[bool],
    incidents: &[Incident],
) -> Result<RecordBatch, AnalyticsError> {
    let groups: Vec<u32> = incidents.iter().map(|i| i.group).collect();
    let mut columns = set.group_columns(&groups, carry)?;
    let n = incidents.len();
    let (mut start, mut end, mut days) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut observed, mut expected, mut peak) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut severity, mut dir, mut method, mut provisional_any) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut sums: [Vec<i64>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    for inc in incidents {
        // With every point kept, the incident's days are the anomalous entries of its span.
        let members: Vec<usize> = (inc.first..=inc.last)
            .filter(|&i| judged[i].1.anomaly)
            .collect();
        let day = |i: usize| &judged[i].1;
        start.push(day(members[0]).day);
        end.push(day(inc.last).day);
        days.push(members.len() as i64);
        // Ratios over the incident are ratios of its sums; the expected ratio weighs each day's
        // expectation by that day's volume.
        let (num, den, exp_num) = members.iter().fold((0.0, 0.0, 0.0), |a, &i| {
            (
                a.0 + day(i).num,
                a.1 + day(i).den,
                a.2 + day(i).expected_num,
            )
        });
        observed.push((den != 0.0).then(|| num / den));
        expected.push((den != 0.0).then(|| exp_num / den));
        let top = *members
            .iter()
            .max_by(|&&a, &&b| {
                let s = |i: usize| day(i).evidence.unwrap_or(0.0).abs();
                s(a).total_cmp(&s(b))
            })
            .expect("an incident has a day");
        peak.push(day(top).evidence);
        severity.push(members.iter().map(|&i| u32::from(day(i).severity)).max());
        dir.push(direction(day(top)));
        method.push(day(top).method.map(Method::name));
        provisional_any.push(members.iter().any(|&i| provisional[i]));
        for (k, column) in sums.iter_mut().enumerate() {
            column.push(members.iter().map(|&i| day(i).sums[k]).sum());
        }
    }
    let date = |name: &str, v: Vec<i32>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Date32, false),
            Arc::new(Date32Array::from(v)),
        )
    };
    let float = |name: &str, v: Vec<Option<f64>>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(Float64Array::from(v)),
        )
    };
    columns.push(date("start", start));
    columns.push(date("end", end));
    columns.push((
        Field::new("days", DataType::Int64, false),
        Arc::new(Int64Array::from(days)),
    ));
    columns.push(float("observed", observed));
    columns.push(float("expected", expected));
    columns.push(float("peak_score", peak));
    columns.push((
        Field::new("severity", DataType::UInt32, true),
        Arc::new(UInt32Array::from(severity)),
    ));
    columns.push((
        Field::new("direction", DataType::Utf8, true),
        Arc::new(StringArray::from(dir)),
    ));
    columns.push((
        Field::new("method", DataType::Utf8, true),
        Arc::new(StringArray::from(method)),
    ));
    columns.push((
        Field::new("provisional", DataType::Boolean, false),
        Arc::new(BooleanArray::from(provisional_any)),
    ));
    // The incident days' sums, so the money at stake can be priced without another query.
    for (name, column) in crate::aggregate::MEASURE_COLUMNS.iter().zip(sums) {
        columns.push((
            Field::new(*name, DataType::Int64, false),
            Arc::new(Int64Array::from(column)),
        ));
    }
    batch_of(columns)
}
