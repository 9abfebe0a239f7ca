//! Sources: how the native columns of an export map onto the fact row. A source is a
//! declarative, versioned table: its columns and how each is read, what a field takes when the
//! export has no column for it, and the options it needs. One more platform is one more table,
//! not one more parser; a table that changes what it reads gets a new version.

mod generic;
mod google_ads;
mod linkedin_ads;
mod meta_ads;
mod names;
mod options;
mod tiktok_ads;

pub use names::canonical_into;
pub use options::{OptionKey, Options};

use options::OptionSpec;

use super::PayloadError;
use crate::currency::Currency;
use crate::platform::Platform;
use crate::schema::FactField;

const FIELDS: usize = FactField::ALL.len();

/// One of the three numbers LinkedIn writes a date as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    Year,
    Month,
    Day,
}

impl DatePart {
    pub const ALL: [DatePart; 3] = [DatePart::Year, DatePart::Month, DatePart::Day];

    pub fn slot(self) -> usize {
        FIELDS + self as usize
    }
}

/// How a column's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The field's natural unit: a date, text, a count, money in currency units.
    Natural,
    /// Money as integer micros.
    Micros,
    /// A timestamp `YYYY-MM-DD HH:MM:SS` of which the date is the field.
    DateTime,
    DatePart(DatePart),
    /// A list of `{action_type, value}` objects, the values summed over the action types the
    /// option names (Meta's `actions` and `action_values`).
    Actions(OptionKey),
    /// A list of URNs naming the row's campaign group, campaign and creative (LinkedIn's
    /// `pivotValues`): campaign_id, ad_group_id and ad_id at once.
    Pivots,
}

/// What an input column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub field: FactField,
    pub read: Read,
}

/// Places a payload may fill once: the fields, then the date parts, then the pivots.
pub const SLOTS: usize = FIELDS + 4;

impl Binding {
    pub const fn new(field: FactField, read: Read) -> Binding {
        Binding { field, read }
    }

    /// What no second column of a payload may give again.
    pub fn slot(self) -> usize {
        match self.read {
            Read::DatePart(part) => part.slot(),
            Read::Pivots => FIELDS + 3,
            _ => self.field.index(),
        }
    }
}

/// A column's name: fixed, or the value of an option (TikTok's configurable value metric).
#[derive(Debug)]
pub enum Name {
    Fixed(&'static str),
    Option(OptionKey),
}

#[derive(Debug)]
pub struct ColumnSpec {
    /// Native spelling; input names match it trimmed, case-insensitively, camelCase as
    /// snake_case.
    pub name: Name,
    pub binding: Binding,
}

pub const fn column(name: &'static str, field: FactField, read: Read) -> ColumnSpec {
    ColumnSpec {
        name: Name::Fixed(name),
        binding: Binding::new(field, read),
    }
}

/// What a field takes when the export has no column for it.
#[derive(Debug, Clone, Copy)]
pub enum Absent {
    /// Nothing: the export must have the column (MISSING_COLUMNS).
    Refuse,
    /// Empty text or zero, and the column is reported missing (schema drift).
    Empty,
    /// An id of the campaign → ad group → ad hierarchy takes the id of the nearest level the
    /// row has, its parent first (a campaign-level report gives every level the campaign's
    /// id); the column is reported missing unless the row's URNs gave the level.
    Hierarchy,
    /// A constant (the platform of a platform's own export); no column is expected.
    Constant(&'static str),
    /// The option's value; without the option the export must have the column.
    Option(OptionKey),
    /// The account the option `campaign_groups` gives the row's campaign group, else the
    /// option `account_id` (LinkedIn rows name no account).
    GroupAccount,
}

#[derive(Debug)]
pub struct Source {
    pub name: &'static str,
    /// Bumped whenever the table reads an export differently.
    pub version: u32,
    pub columns: &'static [ColumnSpec],
    /// What fields take when the export has no column for them; any field not listed is
    /// `Absent::Refuse`.
    pub absent: &'static [(FactField, Absent)],
    /// Prefixes a column name may carry and be matched without (TikTok's `metrics.`).
    pub prefixes: &'static [&'static str],
    /// Canonical names of native columns that are known but not read, so they are not
    /// reported as drift; `*.x` matches any name ending in `.x`.
    pub unread: &'static [&'static str],
    pub options: &'static [OptionSpec],
}

pub static SOURCES: [&Source; 5] = [
    &generic::GENERIC,
    &google_ads::GOOGLE_ADS,
    &meta_ads::META_ADS,
    &tiktok_ads::TIKTOK_ADS,
    &linkedin_ads::LINKEDIN_ADS,
];

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

impl Source {
    pub fn absent(&self, field: FactField) -> Absent {
        self.absent
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(Absent::Refuse, |(_, absent)| *absent)
    }

    /// `google_ads/1`: which table read a payload.
    pub fn version_name(&self) -> String {
        format!("{}/{}", self.name, self.version)
    }
}

/// What a field of a row takes when the row has no value for it, once options are resolved.
#[derive(Debug, Clone)]
pub enum Fill {
    /// The row is refused ("is missing").
    Refuse,
    Empty,
    Hierarchy,
    Platform(Platform),
    Currency(Currency),
    Text(String),
    GroupAccount,
}

/// What an input column is to a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Read(Binding),
    /// A native column the source knows and does not need.
    Unread,
    Unknown,
}

/// Which input columns feed which field, and the drift: columns not read, columns missing.
#[derive(Debug)]
pub struct Layout {
    /// (input column index, binding), in input order.
    pub bound: Vec<(usize, Binding)>,
    pub ignored: Vec<String>,
    pub missing: Vec<String>,
}

/// A source with its options resolved: everything needed to read one payload.
#[derive(Debug)]
pub struct Mapping {
    pub source: &'static Source,
    pub options: Options,
    /// (canonical name, native name, binding) of every column the source reads.
    columns: Vec<(String, String, Binding)>,
    pub fills: [Fill; FIELDS],
}

impl Mapping {
    pub fn new<K: AsRef<str>, V: AsRef<str>>(
        source: &'static Source,
        options: &[(K, V)],
    ) -> Result<Mapping, PayloadError> {
        let options = source.options(options)?;
        let columns = source
            .columns
            .iter()
            .filter_map(|c| {
                let native = match c.name {
                    Name::Fixed(name) => name.to_owned(),
                    Name::Option(OptionKey::ValueField) => options.value_field.clone()?,
                    Name::Option(_) => return None,
                };
                Some((names::canonical(&native), native, c.binding))
            })
            .collect();
        let fills = FactField::ALL.map(|field| match source.absent(field) {
            Absent::Refuse => Fill::Refuse,
            Absent::Empty => Fill::Empty,
            Absent::Hierarchy => Fill::Hierarchy,
            Absent::GroupAccount => Fill::GroupAccount,
            Absent::Constant(name) => Platform::parse(name.as_bytes())
                .map(Fill::Platform)
                .unwrap_or(Fill::Refuse),
            Absent::Option(OptionKey::Currency) => {
                options.currency.map_or(Fill::Refuse, Fill::Currency)
            }
            Absent::Option(OptionKey::AccountId) => {
                options.account_id.clone().map_or(Fill::Refuse, Fill::Text)
            }
            Absent::Option(_) => Fill::Refuse,
        });
        let needs_account = fills.iter().any(|f| matches!(f, Fill::GroupAccount));
        if needs_account && options.account_id.is_none() && options.campaign_groups.is_empty() {
            return Err(PayloadError::invalid_option(format!(
                "source '{}' needs the option account_id or campaign_groups: its rows name no account",
                source.name
            )));
        }
        Ok(Mapping {
            source,
            options,
            columns,
            fills,
        })
    }

    /// What the input column `name` is to the source. `scratch` holds the canonical name.
    pub fn classify(&self, name: &str, scratch: &mut String) -> Match {
        canonical_into(name, scratch);
        let mut candidates = [Some(scratch.as_str()), None];
        if let Some(prefix) = self
            .source
            .prefixes
            .iter()
            .find(|p| scratch.starts_with(**p))
        {
            candidates[1] = Some(&scratch[prefix.len()..]);
        }
        for candidate in candidates.into_iter().flatten() {
            if let Some((_, _, binding)) = self.columns.iter().find(|c| c.0 == candidate) {
                return Match::Read(*binding);
            }
        }
        let known = self
            .source
            .unread
            .iter()
            .any(|u| match u.strip_prefix('*') {
                Some(suffix) => scratch.ends_with(suffix),
                None => candidates.into_iter().flatten().any(|c| c == *u),
            });
        if known {
            Match::Unread
        } else {
            Match::Unknown
        }
    }

    /// Binds a header; refuses one that gives a field twice or lacks a required one.
    pub fn layout<S: AsRef<str>>(&self, columns: &[S]) -> Result<Layout, PayloadError> {
        let mut by_slot: [Option<usize>; SLOTS] = [None; SLOTS];
        let mut bound = Vec::new();
        let mut ignored = Vec::new();
        let mut scratch = String::new();
        for (i, column) in columns.iter().map(AsRef::as_ref).enumerate() {
            let binding = match self.classify(column, &mut scratch) {
                Match::Read(binding) => binding,
                Match::Unread => continue,
                Match::Unknown => {
                    ignored.push(column.to_owned());
                    continue;
                }
            };
            let slot = &mut by_slot[binding.slot()];
            if let Some(first) = *slot {
                return Err(PayloadError::duplicate_columns(format!(
                    "columns '{}' and '{column}' both give {}",
                    columns[first].as_ref(),
                    binding.field.name()
                )));
            }
            *slot = Some(i);
            bound.push((i, binding));
        }
        let missing = self.check_columns(|slot| by_slot[slot].is_some(), &ignored)?;
        Ok(Layout {
            bound,
            ignored,
            missing,
        })
    }

    /// The optional columns a payload lacks, given which slots it has columns for; or
    /// MISSING_COLUMNS naming every required one it lacks, and the columns it did not know
    /// (a renamed column is usually among them).
    pub fn check_columns(
        &self,
        has: impl Fn(usize) -> bool,
        ignored: &[String],
    ) -> Result<Vec<String>, PayloadError> {
        let pivots = has(FIELDS + 3);
        let has_field = |field: FactField| match field {
            FactField::Date => has(field.index()) || (FIELDS..FIELDS + 3).any(&has),
            FactField::CampaignId | FactField::AdGroupId | FactField::AdId => {
                pivots || has(field.index())
            }
            _ => has(field.index()),
        };
        let hierarchy = [FactField::CampaignId, FactField::AdGroupId, FactField::AdId];
        let no_level = !hierarchy.into_iter().any(has_field);
        // A report is of the level of its deepest id column: a campaign-level report expects no
        // ad group or ad columns, so their absence is not drift (a renamed id column still is:
        // the new name is an unknown column).
        let level = hierarchy.iter().rposition(|&f| has_field(f));
        let below_level = |field: FactField| {
            let depth = hierarchy.iter().position(|&f| f == field);
            matches!((depth, level), (Some(d), Some(l)) if d > l)
        };
        let mut required = Vec::new();
        let mut optional = Vec::new();
        for field in FactField::ALL {
            if has_field(field) {
                continue;
            }
            let name = self.column_name(field);
            match (&self.fills[field.index()], self.source.absent(field)) {
                (Fill::Refuse, Absent::Option(key)) => {
                    required.push(format!("{name} (or the option {})", key.name()));
                }
                (Fill::Refuse, _) => required.push(name.to_owned()),
                (Fill::Hierarchy, _) if no_level && field == FactField::CampaignId => {
                    required.push(name.to_owned());
                }
                (Fill::Hierarchy, _) if below_level(field) => {}
                // A field the source has no column for at all (LinkedIn names no campaigns) is
                // not drift.
                (Fill::Empty | Fill::Hierarchy, _)
                    if self.columns.iter().any(|c| c.2.field == field) =>
                {
                    optional.push(name.to_owned());
                }
                _ => {}
            }
        }
        if required.is_empty() {
            return Ok(optional);
        }
        let mut message = format!("missing columns: {}", required.join(", "));
        if !ignored.is_empty() {
            message.push_str(&format!("; unknown columns: {}", ignored.join(", ")));
        }
        Err(PayloadError::missing_columns(message))
    }

    /// Native names of the year, month and day columns of a date given in parts.
    pub fn date_parts(&self) -> Option<[&str; 3]> {
        let name = |part: DatePart| {
            self.columns
                .iter()
                .find(|c| c.2.read == Read::DatePart(part))
                .map(|c| c.1.as_str())
        };
        Some([
            name(DatePart::Year)?,
            name(DatePart::Month)?,
            name(DatePart::Day)?,
        ])
    }

    /// What the date parts are together: their common prefix (`dateRange.start`).
    pub fn date_parts_name(&self) -> &str {
        self.date_parts().map_or("date", |[year, ..]| {
            year.rsplit_once('.').map_or(year, |(prefix, _)| prefix)
        })
    }

    /// Native name of the URN list column, where the source has one.
    pub fn pivots_name(&self) -> Option<&str> {
        self.columns
            .iter()
            .find(|c| c.2.read == Read::Pivots)
            .map(|c| c.1.as_str())
    }

    /// The native name of the first column that gives `field`: what messages call it.
    pub fn column_name(&self, field: FactField) -> &str {
        self.columns
            .iter()
            .find(|c| c.2.field == field && !matches!(c.2.read, Read::Pivots))
            .map_or(field.name(), |c| c.1.as_str())
    }
}

#[cfg(test)]
mod tests;
