//! Money decisions: where spend earns least at the margin and where most (reallocation), how a
//! month's spend paces against its budget, and which groups cost more than their parent's
//! own rate (underperformers).

mod pacing;
mod parent;
mod reallocate;

pub use pacing::pacing;
pub use parent::compare_to_parent;
pub use reallocate::reallocate;

use arrow::array::{ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use super::AnalyticsError;

pub(super) fn strings(array: &ArrayRef) -> Result<Vec<Option<String>>, AnalyticsError> {
    let utf8 = cast(array, &DataType::Utf8)?;
    let s = utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to utf8");
    Ok(s.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Each group's key values joined into one string, to match groups across two tables.
pub(super) fn joined_keys(
    columns: &[ArrayRef],
    rows: usize,
) -> Result<Vec<String>, AnalyticsError> {
    let texts = columns.iter().map(strings).collect::<Result<Vec<_>, _>>()?;
    Ok((0..rows)
        .map(|i| {
            texts
                .iter()
                .map(|t| t[i].clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\u{0}")
        })
        .collect())
}
