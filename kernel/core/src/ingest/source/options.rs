//! Source options: the few facts an export leaves out or leaves to the advertiser (which Meta
//! action types count as conversions, LinkedIn's currency, …), checked once when a stream opens
//! and resolved into typed values before any row is read.

use std::collections::HashMap;

use super::Source;
use crate::currency::Currency;
use crate::ingest::PayloadError;

/// Every option any source takes; each source lists the ones it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKey {
    /// Comma-separated Meta action types summed into conversions.
    ActionTypes,
    /// Comma-separated Meta action types whose values are summed into revenue.
    ValueActionTypes,
    /// The TikTok metric read as revenue.
    ValueField,
    /// ISO 4217 code of the money of an export that has no currency column.
    Currency,
    /// The account of an export that has no account column.
    AccountId,
    /// `group=account,…`: LinkedIn campaign group → account.
    CampaignGroups,
}

impl OptionKey {
    pub fn name(self) -> &'static str {
        match self {
            OptionKey::ActionTypes => "action_types",
            OptionKey::ValueActionTypes => "value_action_types",
            OptionKey::ValueField => "value_field",
            OptionKey::Currency => "currency",
            OptionKey::AccountId => "account_id",
            OptionKey::CampaignGroups => "campaign_groups",
        }
    }
}

/// What an option is when the stream does not set it.
#[derive(Debug, Clone, Copy)]
pub enum Unset {
    /// Left unset (a fallback the export may not need).
    Nothing,
    /// The stream must set it.
    Refuse,
    Default(&'static str),
    /// Whatever the other option is (set or defaulted).
    SameAs(OptionKey),
}

#[derive(Debug)]
pub struct OptionSpec {
    pub key: OptionKey,
    pub unset: Unset,
}

pub const fn option(key: OptionKey, unset: Unset) -> OptionSpec {
    OptionSpec { key, unset }
}

/// Options resolved into the values the mapping uses.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub action_types: Vec<String>,
    pub value_action_types: Vec<String>,
    pub value_field: Option<String>,
    pub currency: Option<Currency>,
    pub account_id: Option<String>,
    pub campaign_groups: HashMap<String, String>,
}

const MAX_OPTION_BYTES: usize = 64 * 1024;

impl Source {
    /// Checks `given` against the options the source takes and resolves them.
    pub fn options<K: AsRef<str>, V: AsRef<str>>(
        &self,
        given: &[(K, V)],
    ) -> Result<Options, PayloadError> {
        for (name, _) in given {
            let name = name.as_ref();
            if !self.options.iter().any(|o| o.key.name() == name) {
                let known: Vec<&str> = self.options.iter().map(|o| o.key.name()).collect();
                let known = if known.is_empty() {
                    "it takes none".to_owned()
                } else {
                    format!("it takes {}", known.join(", "))
                };
                return Err(PayloadError::unknown_option(format!(
                    "source '{}' has no option '{name}' ({known})",
                    self.name
                )));
            }
        }
        let value_of = |key: OptionKey| -> Result<Option<&str>, PayloadError> {
            let mut key = key;
            loop {
                if let Some((_, v)) = given.iter().find(|(n, _)| n.as_ref() == key.name()) {
                    return Ok(Some(v.as_ref()));
                }
                let spec = self.options.iter().find(|o| o.key == key);
                match spec.map(|s| s.unset) {
                    Some(Unset::Default(v)) => return Ok(Some(v)),
                    Some(Unset::SameAs(other)) => key = other,
                    Some(Unset::Refuse) => {
                        return Err(invalid(key, "is required by this source"));
                    }
                    Some(Unset::Nothing) | None => return Ok(None),
                }
            }
        };
        let mut options = Options::default();
        for spec in self.options {
            let Some(text) = value_of(spec.key)? else {
                continue;
            };
            if text.len() > MAX_OPTION_BYTES {
                return Err(invalid(spec.key, "is too long"));
            }
            match spec.key {
                OptionKey::ActionTypes => options.action_types = names(spec.key, text)?,
                OptionKey::ValueActionTypes => options.value_action_types = names(spec.key, text)?,
                OptionKey::ValueField => options.value_field = Some(single_name(spec.key, text)?),
                OptionKey::Currency => {
                    options.currency = Some(Currency::parse(text.as_bytes()).map_err(|_| {
                        invalid(
                            spec.key,
                            &format!("'{text}' is not an ISO 4217 currency code"),
                        )
                    })?);
                }
                OptionKey::AccountId => options.account_id = Some(id(spec.key, text)?),
                OptionKey::CampaignGroups => options.campaign_groups = pairs(spec.key, text)?,
            }
        }
        Ok(options)
    }
}

fn invalid(key: OptionKey, why: &str) -> PayloadError {
    PayloadError::invalid_option(format!("option '{}' {why}", key.name()))
}

/// An id or name as options write them: trimmed, non-empty, no control characters.
fn id(key: OptionKey, text: &str) -> Result<String, PayloadError> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(invalid(
            key,
            &format!("has an empty or unprintable value in '{text}'"),
        ));
    }
    Ok(text.to_owned())
}

fn single_name(key: OptionKey, text: &str) -> Result<String, PayloadError> {
    let name = id(key, text)?;
    if name.contains(',') {
        return Err(invalid(key, "takes one name"));
    }
    Ok(name)
}

fn names(key: OptionKey, text: &str) -> Result<Vec<String>, PayloadError> {
    text.split(',').map(|n| id(key, n)).collect()
}

fn pairs(key: OptionKey, text: &str) -> Result<HashMap<String, String>, PayloadError> {
    let mut out = HashMap::new();
    for pair in text.split(',') {
        let Some((group, account)) = pair.split_once('=') else {
            return Err(invalid(
                key,
                &format!("expects group=account pairs, got '{}'", pair.trim()),
            ));
        };
        let group = id(key, group)?;
        if out.insert(group.clone(), id(key, account)?).is_some() {
            return Err(invalid(key, &format!("names group '{group}' twice")));
        }
    }
    Ok(out)
}
