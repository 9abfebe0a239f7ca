use super::*;
use crate::ingest::PayloadErrorCode;

fn mapping(source: &str, options: &[(&str, &str)]) -> Mapping {
    Mapping::new(source_named(source).unwrap(), options).unwrap()
}

fn read(field: FactField, read: Read) -> Match {
    Match::Read(Binding::new(field, read))
}

/// The generic header: every field under its own name.
fn header() -> Vec<&'static str> {
    FactField::ALL.iter().map(|f| f.name()).collect()
}

#[test]
fn names_match_trimmed_case_insensitively_and_camel_case_as_snake_case() {
    let generic = mapping("generic", &[]);
    let mut scratch = String::new();
    let mut classify = |m: &Mapping, name: &str| m.classify(name, &mut scratch);
    assert_eq!(
        classify(&generic, " Cost "),
        read(FactField::Cost, Read::Natural)
    );
    assert_eq!(
        classify(&generic, "CONVERSION_VALUE"),
        read(FactField::Revenue, Read::Natural)
    );
    assert_eq!(
        classify(&generic, "revenueMicros"),
        read(FactField::Revenue, Read::Micros)
    );
    assert_eq!(classify(&generic, "spend"), Match::Unknown);
    let google = mapping("google_ads", &[]);
    assert_eq!(
        classify(&google, "metrics.costMicros"),
        read(FactField::Cost, Read::Micros)
    );
    assert_eq!(
        classify(&google, "adGroupAd.ad.id"),
        read(FactField::AdId, Read::Natural)
    );
    assert_eq!(classify(&google, "campaign.resourceName"), Match::Unread);
    assert_eq!(classify(&google, "metrics.cost"), Match::Unknown);
    let tiktok = mapping("tiktok_ads", &[("value_field", "complete_payment")]);
    assert_eq!(
        classify(&tiktok, "metrics.spend"),
        read(FactField::Cost, Read::Natural)
    );
    assert_eq!(
        classify(&tiktok, "spend"),
        read(FactField::Cost, Read::Natural)
    );
    assert_eq!(
        classify(&tiktok, "metrics.complete_payment"),
        read(FactField::Revenue, Read::Natural)
    );
    assert_eq!(
        classify(&tiktok, "total_complete_payment_rate"),
        Match::Unknown
    );
}

#[test]
fn a_full_header_binds_every_field_and_lists_unknown_columns() {
    let mut header: Vec<&str> = header();
    header.insert(3, "notes");
    header.push("Extra");
    let layout = mapping("generic", &[]).layout(&header).unwrap();
    assert_eq!(layout.bound.len(), 13);
    assert_eq!(layout.ignored, ["notes", "Extra"]);
    assert!(layout.missing.is_empty());
    assert_eq!(
        layout.bound[3],
        (4, Binding::new(FactField::CampaignId, Read::Natural))
    );
}

#[test]
fn every_missing_required_column_is_named_and_optional_ones_are_listed() {
    let generic = mapping("generic", &[]);
    let without = |drop: &[&str]| -> Vec<&'static str> {
        header().into_iter().filter(|c| !drop.contains(c)).collect()
    };
    let err = generic
        .layout(&without(&["ad_id", "cost", "campaign_name"]))
        .unwrap_err();
    assert_eq!(err.code, PayloadErrorCode::MissingColumns);
    assert_eq!(err.message, "missing columns: ad_id, cost");
    let layout = generic.layout(&without(&["campaign_name"])).unwrap();
    assert_eq!(layout.missing, ["campaign_name"]);
}

#[test]
fn two_columns_for_one_field_are_refused() {
    let generic = mapping("generic", &[]);
    let mut header: Vec<&str> = header();
    header.push("conversion_value");
    let err = generic.layout(&header).unwrap_err();
    assert_eq!(err.code, PayloadErrorCode::DuplicateColumns);
    assert_eq!(
        err.message,
        "columns 'revenue' and 'conversion_value' both give revenue"
    );
    header.pop();
    header.push("COST_MICROS");
    assert!(generic.layout(&header).is_err());
}

#[test]
fn unknown_sources_are_refused() {
    assert_eq!(source_named("generic").unwrap().name, "generic");
    let err = source_named("yahoo").unwrap_err();
    assert_eq!(err.code, PayloadErrorCode::UnknownSource);
}

const GOOGLE: [&str; 12] = [
    "segments.date",
    "customer.id",
    "campaign.id",
    "campaign.name",
    "ad_group.id",
    "ad_group_ad.ad.id",
    "customer.currency_code",
    "metrics.impressions",
    "metrics.clicks",
    "metrics.cost_micros",
    "metrics.conversions",
    "metrics.conversions_value",
];

#[test]
fn a_renamed_platform_metric_is_missing_not_zero() {
    let google = mapping("google_ads", &[]);
    assert!(google.layout(&GOOGLE).unwrap().missing.is_empty());
    for (i, renamed) in [
        (9, "metrics.cost"),
        (7, "metrics.impression"),
        (8, "metrics.click"),
    ] {
        let mut header = GOOGLE.to_vec();
        header[i] = renamed;
        let err = google.layout(&header).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::MissingColumns);
        assert_eq!(
            err.message,
            format!("missing columns: {}; unknown columns: {renamed}", GOOGLE[i])
        );
    }
    let mut lower_levels_absent = GOOGLE.to_vec();
    lower_levels_absent.retain(|c| !c.starts_with("ad_group"));
    assert_eq!(
        google.layout(&lower_levels_absent).unwrap().missing,
        ["ad_group.id", "ad_group_ad.ad.id"]
    );
    let mut no_currency = GOOGLE.to_vec();
    no_currency.remove(6);
    let err = google.layout(&no_currency).unwrap_err();
    assert_eq!(
        err.message,
        "missing columns: customer.currency_code (or the option currency)"
    );
    let eur = mapping("google_ads", &[("currency", "EUR")]);
    assert!(eur.layout(&no_currency).is_ok());
}

#[test]
fn every_platform_needs_its_money_and_count_columns() {
    for (source, options, columns) in [
        (
            "meta_ads",
            &[][..],
            &[
                "date_start",
                "account_id",
                "campaign_id",
                "account_currency",
                "impressions",
                "clicks",
                "spend",
            ][..],
        ),
        (
            "tiktok_ads",
            &[][..],
            &[
                "stat_time_day",
                "advertiser_id",
                "ad_id",
                "currency",
                "impressions",
                "clicks",
                "spend",
                "conversion",
                "total_complete_payment_rate",
            ][..],
        ),
        (
            "linkedin_ads",
            &[("currency", "USD"), ("account_id", "1")][..],
            &[
                "start_date",
                "pivotValues",
                "impressions",
                "clicks",
                "costInLocalCurrency",
                "externalWebsiteConversions",
                "conversionValueInLocalCurrency",
            ][..],
        ),
    ] {
        let m = mapping(source, options);
        assert!(m.layout(columns).is_ok(), "{source}");
        for measure in [
            "impressions",
            "clicks",
            "spend",
            "costInLocalCurrency",
            "conversion",
            "total_complete_payment_rate",
            "externalWebsiteConversions",
            "conversionValueInLocalCurrency",
        ] {
            let Some(i) = columns.iter().position(|c| *c == measure) else {
                continue;
            };
            let mut renamed = columns.to_vec();
            renamed[i] = "renamed";
            let err = m.layout(&renamed).unwrap_err();
            assert_eq!(
                err.code,
                PayloadErrorCode::MissingColumns,
                "{source} {measure}"
            );
            assert!(err.message.contains(measure), "{}", err.message);
            assert!(
                err.message.ends_with("unknown columns: renamed"),
                "{}",
                err.message
            );
        }
    }
}

#[test]
fn options_are_checked_per_source() {
    let code = |source: &str, options: &[(&str, &str)]| {
        Mapping::new(source_named(source).unwrap(), options)
            .err()
            .map(|e| e.code)
    };
    assert_eq!(
        code("generic", &[("currency", "EUR")]),
        Some(PayloadErrorCode::UnknownOption)
    );
    assert_eq!(
        code("meta_ads", &[("value_field", "x")]),
        Some(PayloadErrorCode::UnknownOption)
    );
    assert_eq!(
        code("meta_ads", &[("action_types", "purchase, lead")]),
        None
    );
    assert_eq!(
        code("meta_ads", &[("action_types", "purchase,,lead")]),
        Some(PayloadErrorCode::InvalidOption)
    );
    assert_eq!(
        code("google_ads", &[("currency", "EURO")]),
        Some(PayloadErrorCode::InvalidOption)
    );
    assert_eq!(
        code("tiktok_ads", &[("value_field", "a,b")]),
        Some(PayloadErrorCode::InvalidOption)
    );
    assert_eq!(
        code("linkedin_ads", &[("account_id", "1")]),
        Some(PayloadErrorCode::InvalidOption)
    );
    assert_eq!(
        code("linkedin_ads", &[("currency", "USD")]),
        Some(PayloadErrorCode::InvalidOption)
    );
    assert_eq!(
        code(
            "linkedin_ads",
            &[("currency", "USD"), ("campaign_groups", "7=a1, 8=a2")]
        ),
        None
    );
    assert_eq!(
        code(
            "linkedin_ads",
            &[("currency", "USD"), ("campaign_groups", "7")]
        ),
        Some(PayloadErrorCode::InvalidOption)
    );
    assert_eq!(
        code(
            "linkedin_ads",
            &[("currency", "USD"), ("campaign_groups", "7=a,7=b")]
        ),
        Some(PayloadErrorCode::InvalidOption)
    );
    let meta = mapping(
        "meta_ads",
        &[(
            "action_types",
            "purchase, offsite_conversion.fb_pixel_purchase",
        )],
    );
    assert_eq!(meta.options.value_action_types, meta.options.action_types);
    assert_eq!(
        meta.options.action_types,
        ["purchase", "offsite_conversion.fb_pixel_purchase"]
    );
    assert_eq!(mapping("meta_ads", &[]).options.action_types, ["purchase"]);
}

#[test]
fn tables_are_sound() {
    for source in SOURCES {
        let m = mapping(
            source.name,
            &[("currency", "EUR"), ("account_id", "1")]
                [..if source.name == "linkedin_ads" { 2 } else { 0 }],
        );
        for &(field, absent) in source.absent {
            if let Absent::Constant(name) = absent {
                assert!(Platform::parse(name.as_bytes()).is_some(), "{name}");
                assert!(matches!(m.fills[field.index()], Fill::Platform(_)));
            }
        }
        assert_eq!(m.source.version_name(), format!("{}/1", source.name));
        let listed: Vec<FactField> = source.absent.iter().map(|(f, _)| *f).collect();
        assert!(
            listed
                .iter()
                .enumerate()
                .all(|(i, f)| !listed[..i].contains(f)),
            "{} lists a field twice",
            source.name
        );
        let names: Vec<&str> = m.columns.iter().map(|c| c.0.as_str()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "{} repeats a column",
            source.name
        );
    }
}
