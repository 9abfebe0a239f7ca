//! Values only platform exports write: timestamps that stand for a day, Meta's lists of
//! `{action_type, value}` objects, LinkedIn's lists of URNs. Lists come as JSON (an NDJSON
//! array, or a CSV cell holding the JSON text) and are walked in place, without collecting.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::date;
use crate::money::{self, MICROS};
use crate::problem::Problem;
use crate::schema::FactField;

/// `YYYY-MM-DD HH:MM:SS` (or with `T`, or the date alone) → the day.
pub fn timestamp_day(text: &[u8]) -> Result<i32, Problem> {
    let text = text.trim_ascii();
    let (day, time) = text.split_at(text.len().min(10));
    if let Some((separator, time)) = time.split_first() {
        let is_time = matches!(separator, b' ' | b'T')
            && time.len() == 8
            && time.iter().enumerate().all(|(i, b)| {
                if i % 3 == 2 {
                    *b == b':'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !is_time {
            return Err(Problem::NotADate);
        }
    }
    date::parse_date(day)
}

const ACTIONS: &str = "a list of {action_type, value} objects";

/// The sum in micros of the values of the actions whose type is one of `types`.
pub fn action_sum(json: &[u8], types: &[String]) -> Result<i64, Problem> {
    if json.trim_ascii().is_empty() {
        return Ok(0);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let sum = de
        .deserialize_any(ActionSum { types })
        .and_then(|sum| de.end().map(|()| sum))
        .map_err(|_| Problem::WrongType { expected: ACTIONS })?;
    sum
}

struct ActionSum<'t> {
    types: &'t [String],
}

impl<'de> Visitor<'de> for ActionSum<'_> {
    /// The outer result is the JSON's shape; the inner one a value's own problem.
    type Value = Result<i64, Problem>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ACTIONS)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut total = 0i64;
        let mut problem = None;
        while let Some(action) = seq.next_element::<Action<'de>>()? {
            if problem.is_some() || !self.types.iter().any(|t| *t == action.action_type) {
                continue;
            }
            let micros = match action.value {
                Some(raw) => money_of_json(raw.get()),
                None => Ok(0),
            };
            match micros.and_then(|m| {
                total
                    .checked_add(m)
                    .filter(|t| *t <= MICROS.max)
                    .ok_or(Problem::TooLarge { max: "1000000000" })
            }) {
                Ok(t) => total = t,
                Err(p) => problem = Some(p),
            }
        }
        Ok(problem.map_or(Ok(total), Err))
    }
}

/// A JSON string or number holding money in currency units.
fn money_of_json(raw: &str) -> Result<i64, Problem> {
    let text = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    money::micros_from_text(text.as_bytes())
}

struct Action<'de> {
    action_type: Cow<'de, str>,
    value: Option<&'de RawValue>,
}

impl<'de> serde::Deserialize<'de> for Action<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ActionVisitor;
        impl<'de> Visitor<'de> for ActionVisitor {
            type Value = Action<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an {action_type, value} object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Action<'de>, A::Error> {
                let mut action = Action {
                    action_type: Cow::Borrowed(""),
                    value: None,
                };
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "action_type" => action.action_type = map.next_value()?,
                        "value" => action.value = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(action)
            }
        }
        deserializer.deserialize_map(ActionVisitor)
    }
}

const PIVOTS: &str =
    "a list of LinkedIn URNs with a sponsoredCampaignGroup, sponsoredCampaign or sponsoredCreative";

/// The fact id each URN of a pivot list names, given to `found` as (field, id): a campaign
/// group is the campaign, a LinkedIn campaign the ad group, a creative the ad. The list is a
/// JSON array of strings, or plain text with the URNs separated by commas or white space.
pub fn pivots(text: &[u8], mut found: impl FnMut(FactField, &str)) -> Result<(), Problem> {
    let wrong = || Problem::WrongType { expected: PIVOTS };
    let mut any = false;
    let mut each = |urn: &str| -> Result<(), Problem> {
        let Some(rest) = urn.trim().strip_prefix("urn:li:") else {
            return Err(wrong());
        };
        let (kind, id) = rest.split_once(':').ok_or_else(wrong)?;
        let field = match kind {
            "sponsoredCampaignGroup" => FactField::CampaignId,
            "sponsoredCampaign" => FactField::AdGroupId,
            "sponsoredCreative" => FactField::AdId,
            // Other pivots (a member's company, a country, …) do not name the ad.
            _ => return Ok(()),
        };
        any = true;
        found(field, id);
        Ok(())
    };
    let trimmed = text.trim_ascii();
    if trimmed.first() == Some(&b'[') {
        let mut de = serde_json::Deserializer::from_slice(trimmed);
        de.deserialize_seq(UrnList { each: &mut each })
            .and_then(|r| de.end().map(|()| r))
            .map_err(|_| wrong())??;
    } else {
        let text = std::str::from_utf8(trimmed).map_err(|_| Problem::NotUtf8)?;
        for urn in text.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
            if !urn.is_empty() {
                each(urn)?;
            }
        }
    }
    if any {
        Ok(())
    } else {
        Err(wrong())
    }
}

struct UrnList<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(&str) -> Result<(), Problem>> Visitor<'de> for UrnList<'_, F> {
    type Value = Result<(), Problem>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PIVOTS)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut outcome = Ok(());
        while let Some(urn) = seq.next_element::<Cow<'de, str>>()? {
            if outcome.is_ok() {
                outcome = (self.each)(&urn);
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_give_their_day() {
        assert_eq!(timestamp_day(b"2026-03-01 00:00:00"), Ok(20_513));
        assert_eq!(timestamp_day(b" 2026-03-01T23:59:59 "), Ok(20_513));
        assert_eq!(timestamp_day(b"2026-03-01"), Ok(20_513));
        for bad in [
            "2026-03-01 0:00:00",
            "2026-03-01 00:00",
            "2026-03-01x",
            "2026-03-01 aa:bb:cc",
        ] {
            assert_eq!(
                timestamp_day(bad.as_bytes()),
                Err(Problem::NotADate),
                "{bad}"
            );
        }
    }

    fn types(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn actions_are_summed_exactly_over_the_chosen_types() {
        let json = br#"[{"action_type":"link_click","value":"7"},{"action_type":"purchase","value":"2.5","1d_click":"1"},{"action_type":"omni_purchase","value":0.1},{"value":"9"}]"#;
        assert_eq!(action_sum(json, &types(&["purchase"])), Ok(2_500_000));
        assert_eq!(
            action_sum(json, &types(&["purchase", "omni_purchase"])),
            Ok(2_600_000)
        );
        assert_eq!(action_sum(json, &types(&["lead"])), Ok(0));
        assert_eq!(action_sum(b"", &types(&["purchase"])), Ok(0));
        assert_eq!(action_sum(b"null", &types(&["purchase"])), Ok(0));
        assert_eq!(action_sum(b"[]", &types(&["purchase"])), Ok(0));
        let negative = br#"[{"action_type":"purchase","value":"-1"}]"#;
        assert_eq!(
            action_sum(negative, &types(&["purchase"])),
            Err(Problem::Negative)
        );
        let huge =
            br#"[{"action_type":"a","value":"600000000"},{"action_type":"a","value":"600000000"}]"#;
        assert!(matches!(
            action_sum(huge, &types(&["a"])),
            Err(Problem::TooLarge { .. })
        ));
        for bad in [
            &b"{}"[..],
            b"[1]",
            b"purchase",
            b"[{\"action_type\":1}]",
            b"[] x",
        ] {
            assert_eq!(
                action_sum(bad, &types(&["purchase"])),
                Err(Problem::WrongType { expected: ACTIONS }),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn ids(text: &str) -> Result<Vec<(FactField, String)>, Problem> {
        let mut out = Vec::new();
        pivots(text.as_bytes(), |f, id| out.push((f, id.to_owned())))?;
        Ok(out)
    }

    #[test]
    fn pivot_urns_name_the_levels() {
        assert_eq!(
            ids(
                r#"["urn:li:sponsoredCampaignGroup:7","urn:li:sponsoredCampaign:123","urn:li:sponsoredCreative:9","urn:li:organization:5"]"#
            ),
            Ok(vec![
                (FactField::CampaignId, "7".to_owned()),
                (FactField::AdGroupId, "123".to_owned()),
                (FactField::AdId, "9".to_owned()),
            ])
        );
        assert_eq!(
            ids("urn:li:sponsoredCampaign:123, urn:li:sponsoredCreative:9"),
            Ok(vec![
                (FactField::AdGroupId, "123".to_owned()),
                (FactField::AdId, "9".to_owned()),
            ])
        );
        for bad in [
            "",
            "[]",
            "123",
            "[\"urn:li:organization:5\"]",
            "[1]",
            "urn:li:x",
            "[\"urn:li:sponsoredCampaign:1\"] x",
        ] {
            assert_eq!(
                ids(bad),
                Err(Problem::WrongType { expected: PIVOTS }),
                "{bad}"
            );
        }
    }
}
