//! Column names as sources compare them: trimmed, lower-case snake_case, so the camelCase keys
//! of REST JSON (`metrics.costMicros`, `adGroup.id`) match the snake_case of CSV and GAQL
//! exports (`metrics.cost_micros`, `ad_group.id`).

/// Writes the canonical spelling of `name` into `out` (cleared first).
pub fn canonical_into(name: &str, out: &mut String) {
    out.clear();
    let mut previous: Option<char> = None;
    for c in name.trim().chars() {
        // An upper-case letter after a lower-case letter or digit starts a camelCase word.
        if c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
}

pub fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    canonical_into(name, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn camel_case_and_snake_case_meet() {
        for (name, want) in [
            ("metrics.costMicros", "metrics.cost_micros"),
            ("metrics.cost_micros", "metrics.cost_micros"),
            ("adGroupAd.ad.id", "ad_group_ad.ad.id"),
            (" Cost ", "cost"),
            ("CAMPAIGN_ID", "campaign_id"),
            ("campaignID", "campaign_id"),
            ("costInLocalCurrency", "cost_in_local_currency"),
            ("dateRange.start.year", "date_range.start.year"),
            ("Conversion_Value", "conversion_value"),
            ("metrics.video_p25Views", "metrics.video_p25_views"),
            ("", ""),
        ] {
            assert_eq!(canonical(name), want, "{name}");
        }
    }
}
