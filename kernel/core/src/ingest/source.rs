//! Sources: how the columns of a payload map onto the fact row. A source is a declarative table
//! of column names, so a platform's native layout (Google's `metrics.cost_micros`, Meta's
//! `spend`, …) is one more table here, not one more parser.

use super::PayloadError;
use crate::schema::FactField;

/// How a column writes its value: as the fact field's natural unit (a date, text, a count,
/// money in currency units), or as integer micros of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Natural,
    Micros,
}

/// What an input column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub field: FactField,
    pub unit: Unit,
}

#[derive(Debug)]
pub struct ColumnSpec {
    /// Lower-case name; input names match it trimmed and case-insensitively.
    pub name: &'static str,
    pub binding: Binding,
}

#[derive(Debug)]
pub struct Source {
    pub name: &'static str,
    /// The first column of a field is the one a missing-columns message names.
    pub columns: &'static [ColumnSpec],
}

const fn column(name: &'static str, field: FactField, unit: Unit) -> ColumnSpec {
    ColumnSpec {
        name,
        binding: Binding { field, unit },
    }
}

/// The fact row's own column names, plus the spellings generic exports use for money.
pub static GENERIC: Source = Source {
    name: "generic",
    columns: &[
        column("date", FactField::Date, Unit::Natural),
        column("platform", FactField::Platform, Unit::Natural),
        column("account_id", FactField::AccountId, Unit::Natural),
        column("campaign_id", FactField::CampaignId, Unit::Natural),
        column("campaign_name", FactField::CampaignName, Unit::Natural),
        column("ad_group_id", FactField::AdGroupId, Unit::Natural),
        column("ad_id", FactField::AdId, Unit::Natural),
        column("currency", FactField::Currency, Unit::Natural),
        column("impressions", FactField::Impressions, Unit::Natural),
        column("clicks", FactField::Clicks, Unit::Natural),
        column("cost", FactField::Cost, Unit::Natural),
        column("conversions", FactField::Conversions, Unit::Natural),
        column("revenue", FactField::Revenue, Unit::Natural),
        column("conversion_value", FactField::Revenue, Unit::Natural),
        column("cost_micros", FactField::Cost, Unit::Micros),
        column("conversions_micros", FactField::Conversions, Unit::Micros),
        column("revenue_micros", FactField::Revenue, Unit::Micros),
    ],
};

pub static SOURCES: [&Source; 1] = [&GENERIC];

pub fn source_named(name: &str) -> Result<&'static Source, PayloadError> {
    SOURCES
        .iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = SOURCES.iter().map(|s| s.name).collect();
            PayloadError::unknown_source(format!(
                "unknown source '{name}' (known: {})",
                known.join(", ")
            ))
        })
}

/// Which input columns feed which field, and which are not read.
#[derive(Debug)]
pub struct Layout {
    /// (input column index, binding), in input order.
    pub bound: Vec<(usize, Binding)>,
    pub ignored: Vec<String>,
}

impl Source {
    pub fn bind(&self, column: &str) -> Option<Binding> {
        let column = column.trim();
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(column))
            .map(|c| c.binding)
    }

    /// Binds a header; refuses one that gives a field twice or lacks a required one.
    pub fn layout<S: AsRef<str>>(&self, columns: &[S]) -> Result<Layout, PayloadError> {
        let mut by_field: [Option<usize>; FactField::ALL.len()] = Default::default();
        let mut layout = Layout {
            bound: Vec::new(),
            ignored: Vec::new(),
        };
        for (i, column) in columns.iter().map(AsRef::as_ref).enumerate() {
            let Some(binding) = self.bind(column) else {
                layout.ignored.push(column.to_owned());
                continue;
            };
            let slot = &mut by_field[binding.field.index()];
            if let Some(first) = *slot {
                return Err(PayloadError::duplicate_columns(format!(
                    "columns '{}' and '{column}' both give {}",
                    columns[first].as_ref(),
                    binding.field.name()
                )));
            }
            *slot = Some(i);
            layout.bound.push((i, binding));
        }
        self.check_required(|field| by_field[field.index()].is_some())?;
        Ok(layout)
    }

    /// `MISSING_COLUMNS` naming every required field that `present` denies.
    pub fn check_required(&self, present: impl Fn(FactField) -> bool) -> Result<(), PayloadError> {
        let missing: Vec<&str> = FactField::ALL
            .into_iter()
            .filter(|f| f.required() && !present(*f))
            .map(|f| self.column_name(f))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::missing_columns(format!(
                "missing columns: {}",
                missing.join(", ")
            )))
        }
    }

    pub(crate) fn column_name(&self, field: FactField) -> &'static str {
        self.columns
            .iter()
            .find(|c| c.binding.field == field)
            .map_or(field.name(), |c| c.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::PayloadErrorCode;

    /// The generic header: every field under its own name.
    fn header() -> Vec<&'static str> {
        FactField::ALL.iter().map(|f| f.name()).collect()
    }

    #[test]
    fn names_match_trimmed_and_case_insensitively() {
        assert_eq!(
            GENERIC.bind(" Cost "),
            Some(Binding {
                field: FactField::Cost,
                unit: Unit::Natural
            })
        );
        assert_eq!(
            GENERIC.bind("CONVERSION_VALUE"),
            Some(Binding {
                field: FactField::Revenue,
                unit: Unit::Natural
            })
        );
        assert_eq!(
            GENERIC.bind("revenue_micros"),
            Some(Binding {
                field: FactField::Revenue,
                unit: Unit::Micros
            })
        );
        assert_eq!(GENERIC.bind("spend"), None);
    }

    #[test]
    fn a_full_header_binds_every_field_and_lists_unknown_columns() {
        let mut header: Vec<&str> = header();
        header.insert(3, "notes");
        header.push("Extra");
        let layout = GENERIC.layout(&header).unwrap();
        assert_eq!(layout.bound.len(), 13);
        assert_eq!(layout.ignored, ["notes", "Extra"]);
        assert_eq!(
            layout.bound[3],
            (
                4,
                Binding {
                    field: FactField::CampaignId,
                    unit: Unit::Natural
                }
            )
        );
    }

    #[test]
    fn every_missing_required_column_is_named() {
        let header: Vec<&str> = header()
            .into_iter()
            .filter(|c| !["ad_id", "cost", "campaign_name"].contains(c))
            .collect();
        let err = GENERIC.layout(&header).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::MissingColumns);
        assert_eq!(err.message, "missing columns: ad_id, cost");
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let mut header: Vec<&str> = header();
        header.push("conversion_value");
        let err = GENERIC.layout(&header).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::DuplicateColumns);
        assert_eq!(
            err.message,
            "columns 'revenue' and 'conversion_value' both give revenue"
        );
        header.pop();
        header.push("COST_MICROS");
        assert!(GENERIC.layout(&header).is_err());
    }

    #[test]
    fn unknown_sources_are_refused() {
        assert_eq!(source_named("generic").unwrap().name, "generic");
        let err = source_named("yahoo").unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnknownSource);
    }
}
