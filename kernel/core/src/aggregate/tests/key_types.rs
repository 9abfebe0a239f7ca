//! Every kind of key column groups alike: strings, views, dictionaries, integers, and pairs
//! of keys too many to combine by arithmetic.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, DictionaryArray, Int32Array, Int64Array, RecordBatch, StringViewArray,
};
use arrow::datatypes::Int32Type;

use super::{by_key, column_i64, facts, ints, run, table, with_column};

#[test]
fn dictionary_view_and_integer_keys() {
    let base = facts(
        &[Some("a"), Some("b"), Some("a"), None],
        &[20_000; 4],
        &["EUR"; 4],
        &[1, 2, 4, 8],
    );
    let dictionary: DictionaryArray<Int32Type> = vec![Some("a"), Some("b"), Some("a"), None]
        .into_iter()
        .collect();
    let view: ArrayRef = Arc::new(StringViewArray::from(vec![
        Some("a"),
        Some("b"),
        Some("a"),
        None,
    ]));
    let wide: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(i64::MIN),
        Some(i64::MAX),
        Some(i64::MIN),
        None,
    ]));
    let narrow: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), Some(9), Some(7), None]));
    for key in [Arc::new(dictionary) as ArrayRef, view, wide, narrow] {
        let batch = with_column(&base, "campaign_id", key);
        let out = run(&[batch.clone(), batch], &["campaign_id"], &[], 2).unwrap();
        let mut clicks: Vec<Option<i64>> = column_i64(&out, "clicks");
        clicks.sort();
        assert_eq!(
            clicks,
            [Some(4), Some(10), Some(16)],
            "{:?}",
            out.column(0).data_type()
        );
        assert_eq!(out.column(0).null_count(), 1);
    }
}

#[test]
fn dictionaries_that_differ_between_batches_agree_on_values() {
    let base = facts(&[Some("a"), Some("b")], &[20_000; 2], &["EUR"; 2], &[1, 2]);
    let one: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
    let two: DictionaryArray<Int32Type> = vec!["b", "a"].into_iter().collect();
    let batches: Vec<RecordBatch> = [one, two]
        .into_iter()
        .map(|d| with_column(&base, "campaign_id", Arc::new(d)))
        .collect();
    let out = run(&batches, &["campaign_id"], &[], 1).unwrap();
    assert_eq!(
        by_key(&out, "campaign_id"),
        [(Some("a".into()), Some(3)), (Some("b".into()), Some(3))]
    );
}

#[test]
fn many_keys_with_a_large_product_are_grouped_by_hashing_pairs() {
    let n = 3000;
    let a: Vec<i64> = (0..n).map(|i| i * 1_000_003).collect();
    let b: Vec<i64> = (0..n).map(|i| (i * 7919 % n) * 999_983).collect();
    let zeros = vec![0i64; n as usize];
    let batch = table(vec![
        ("a", ints(&a)),
        ("b", ints(&b)),
        ("impressions", ints(&vec![1; n as usize])),
        ("clicks", ints(&zeros)),
        ("cost_micros", ints(&zeros)),
        ("conversions_micros", ints(&zeros)),
        ("revenue_micros", ints(&zeros)),
    ]);
    let doubled = [batch.clone(), batch];
    let out = run(&doubled, &["a", "b"], &[], 2).unwrap();
    assert_eq!(out.num_rows(), n as usize);
    assert!(column_i64(&out, "impressions")
        .iter()
        .all(|v| *v == Some(2)));
}
