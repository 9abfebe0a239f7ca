//! Whole payloads through `parse_batch`: sources, policies and limits together.

use arrow::array::AsArray;
use arrow::datatypes::{Date32Type, Int64Type};

use super::test_support::error_places;
use super::*;

fn parse(
    payload: &str,
    format: &str,
    source: &str,
    options: &[(&str, &str)],
    settings: &Settings,
) -> ParsedBatch {
    parse_batch(payload.as_bytes(), format, source, options, settings).unwrap()
}

/// (date, account, campaign, ad group, ad, currency, [impressions, clicks, cost, conversions,
/// revenue]) of every fact.
type Fact = (i32, String, String, String, String, String, [i64; 5]);

fn facts(batch: &ParsedBatch) -> Vec<Fact> {
    let f = &batch.facts;
    let text = |c: usize, r: usize| f.column(c).as_string::<i32>().value(r).to_owned();
    let int = |c: usize, r: usize| f.column(c).as_primitive::<Int64Type>().value(r);
    (0..f.num_rows())
        .map(|r| {
            (
                f.column(0).as_primitive::<Date32Type>().value(r),
                text(2, r),
                text(3, r),
                text(5, r),
                text(6, r),
                text(7, r),
                [int(8, r), int(9, r), int(10, r), int(11, r), int(12, r)],
            )
        })
        .collect()
}

fn fact(ids: [&str; 4], currency: &str, measures: [i64; 5]) -> Fact {
    let [account, campaign, group, ad] = ids.map(str::to_owned);
    (
        20_513,
        account,
        campaign,
        group,
        ad,
        currency.to_owned(),
        measures,
    )
}

#[test]
fn google_rest_json_is_flattened_and_matched_in_camel_case() {
    let line = r#"{"customer":{"resourceName":"customers/1","id":"1234567890","currencyCode":"EUR"},"campaign":{"resourceName":"customers/1/campaigns/9","id":"9","name":"Brand"},"adGroup":{"id":"77"},"metrics":{"impressions":"1000","clicks":"50","costMicros":"12345678","conversions":1.5,"conversionsValue":99.99},"segments":{"date":"2026-03-01"},"metrics.video_views":"3"}"#;
    let batch = parse(line, "ndjson", "google_ads", &[], &Settings::default());
    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
    assert_eq!(
        facts(&batch),
        [fact(
            ["1234567890", "9", "77", "77"],
            "EUR",
            [1000, 50, 12_345_678, 1_500_000, 99_990_000]
        )]
    );
    assert_eq!(batch.ignored_columns, ["metrics.video_views"]);
    // An ad-group-level report: no ad column is expected of it.
    assert!(
        batch.missing_columns.is_empty(),
        "{:?}",
        batch.missing_columns
    );
    assert_eq!(batch.source_version, "google_ads/1");
    assert_eq!(
        batch.facts.column(1).as_string::<i32>().value(0),
        "google_ads"
    );
}

#[test]
fn meta_actions_are_summed_from_json_and_csv_cells() {
    let csv = "date_start,date_stop,account_id,campaign_id,adset_id,ad_id,account_currency,impressions,clicks,spend,actions,action_values\n\
               2026-03-01,2026-03-01,act_1,c1,s1,a1,USD,100,5,12.34,\"[{\"\"action_type\"\":\"\"purchase\"\",\"\"value\"\":\"\"2\"\"},{\"\"action_type\"\":\"\"lead\"\",\"\"value\"\":\"\"4\"\"}]\",\"[{\"\"action_type\"\":\"\"purchase\"\",\"\"value\"\":\"\"50.5\"\"}]\"\n";
    let options = [
        ("action_types", "purchase,lead"),
        ("value_action_types", "purchase"),
    ];
    let batch = parse(csv, "csv", "meta_ads", &options, &Settings::default());
    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
    assert_eq!(
        facts(&batch),
        [fact(
            ["act_1", "c1", "s1", "a1"],
            "USD",
            [100, 5, 12_340_000, 6_000_000, 50_500_000]
        )]
    );
    // A report without any action (or name) lists them as missing, and reads zero conversions.
    let json = r#"{"date_start":"2026-03-01","account_id":"act_1","campaign_id":"c1","adset_id":"s1","ad_id":"a1","account_currency":"USD","impressions":"100","clicks":"5","spend":"1"}"#;
    let batch = parse(json, "ndjson", "meta_ads", &[], &Settings::default());
    assert_eq!(
        batch.missing_columns,
        ["campaign_name", "actions", "action_values"]
    );
    assert_eq!(facts(&batch)[0].6, [100, 5, 1_000_000, 0, 0]);
}

#[test]
fn tiktok_nested_metrics_and_timestamps() {
    let line = r#"{"dimensions":{"stat_time_day":"2026-03-01 00:00:00","ad_id":"ad9"},"metrics":{"campaign_id":"c1","adgroup_id":"g1","spend":"3.50","impressions":"200","clicks":"7","conversion":"2","total_complete_payment_rate":"40.00","currency":"JPY","advertiser_id":"adv"}}"#;
    let batch = parse(line, "ndjson", "tiktok_ads", &[], &Settings::default());
    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
    assert_eq!(
        facts(&batch),
        [fact(
            ["adv", "c1", "g1", "ad9"],
            "JPY",
            [200, 7, 3_500_000, 2_000_000, 40_000_000]
        )]
    );
}

#[test]
fn linkedin_pivots_dates_and_accounts() {
    let line = |pivots: &str| {
        format!(
            r#"{{"dateRange":{{"start":{{"year":2026,"month":3,"day":1}},"end":{{"year":2026,"month":3,"day":1}}}},"pivotValues":{pivots},"impressions":10,"clicks":1,"costInLocalCurrency":"2.5","externalWebsiteConversions":1,"conversionValueInLocalCurrency":"9"}}"#
        )
    };
    let payload = [
        line(r#"["urn:li:sponsoredCampaignGroup:7","urn:li:sponsoredCampaign:70"]"#),
        line(r#"["urn:li:sponsoredCampaign:71"]"#),
        line(r#"["urn:li:sponsoredCampaignGroup:8","urn:li:sponsoredCreative:800"]"#),
        line(r#"["urn:li:sponsoredCampaignGroup:9"]"#),
        line(r#"["urn:li:organization:1"]"#),
    ]
    .join("\n");
    let options = [("currency", "GBP"), ("campaign_groups", "7=acc7,8=acc8")];
    let batch = parse(
        &payload,
        "ndjson",
        "linkedin_ads",
        &options,
        &Settings::default(),
    );
    let m = [10, 1, 2_500_000, 1_000_000, 9_000_000];
    assert_eq!(
        facts(&batch),
        [
            fact(["acc7", "7", "70", "70"], "GBP", m),
            fact(["acc8", "8", "8", "800"], "GBP", m)
        ]
    );
    assert_eq!(
        error_places(&batch),
        [
            (2, 2, "pivotValues"),
            (4, 4, "pivotValues"),
            (5, 5, "pivotValues")
        ]
    );
    assert!(
        batch.errors[0].reason.contains("campaign_groups"),
        "{}",
        batch.errors[0].reason
    );
    let options = [("currency", "GBP"), ("account_id", "main")];
    let batch = parse(
        &payload,
        "ndjson",
        "linkedin_ads",
        &options,
        &Settings::default(),
    );
    assert_eq!(batch.facts.num_rows(), 4);
    assert_eq!(facts(&batch)[1], fact(["main", "71", "71", "71"], "GBP", m));
    let bad_day = payload.replace(
        r#""month":3,"day":1},"end""#,
        r#""month":2,"day":31},"end""#,
    );
    let batch = parse(
        &bad_day,
        "ndjson",
        "linkedin_ads",
        &options,
        &Settings::default(),
    );
    assert_eq!(batch.errors[0].field, "dateRange.start");
    assert_eq!(
        batch.errors[0].reason,
        "'2026-02-31' is not a date (expected YYYY-MM-DD)"
    );
}

const GENERIC: &str = "date,platform,account_id,campaign_id,ad_group_id,ad_id,currency,impressions,clicks,cost,conversions,revenue\n";

#[test]
fn clicks_over_impressions_warn_or_reject() {
    let payload = format!(
        "{GENERIC}2026-03-01,google,a,c,g,ad1,EUR,10,11,1,0,0\n2026-03-01,google,a,c,g,ad2,EUR,10,10,1,0,0\n"
    );
    let warn = parse(&payload, "csv", "generic", &[], &Settings::default());
    assert_eq!((warn.facts.num_rows(), warn.errors.len()), (2, 0));
    assert_eq!(
        warn.warnings,
        [RowError {
            row: 1,
            line: 2,
            field: "clicks".into(),
            reason: "'11' clicks are more than the row's 10 impressions".into()
        }]
    );
    let settings = Settings {
        clicks_over_impressions: ClicksPolicy::Reject,
        ..Settings::default()
    };
    let reject = parse(&payload, "csv", "generic", &[], &settings);
    assert_eq!(reject.facts.num_rows(), 1);
    assert!(reject.warnings.is_empty());
    assert_eq!(error_places(&reject), [(1, 2, "clicks")]);
    let google = "segments.date,customer.id,campaign.id,customer.currency_code,metrics.impressions,metrics.clicks,metrics.cost_micros,metrics.conversions,metrics.conversions_value\n2026-03-01,1,2,EUR,0,3,0,0,0\n";
    let reject = parse(google, "csv", "google_ads", &[], &settings);
    assert_eq!(error_places(&reject), [(1, 2, "metrics.clicks")]);
}

#[test]
fn an_overlong_csv_record_is_a_row_error_and_reading_resumes_at_the_next_line() {
    let good = "2026-03-01,google,a,c,g,ad1,EUR,10,1,1,0,0\n";
    let payload = format!(
        "{GENERIC}{good}2026-03-01,google,a,\"unclosed,g,ad2,EUR,10,1,1,0,0\n{}{good}",
        good.replace("ad1", "ad3")
    );
    let settings = Settings {
        max_line_bytes: 60,
        ..Settings::default()
    };
    let batch = parse(&payload, "csv", "generic", &[], &settings);
    assert_eq!(batch.rows_total, 4);
    assert_eq!(batch.facts.num_rows(), 2);
    assert_eq!(error_places(&batch), [(2, 3, "")]);
    assert!(batch.errors[0]
        .reason
        .starts_with("the record is longer than 60 bytes"));
    // Without the limit the quote swallows the rest into one record of the wrong width.
    let batch = parse(&payload, "csv", "generic", &[], &Settings::default());
    assert_eq!(batch.rows_total, 2);
}

#[test]
fn an_overlong_ndjson_line_is_a_row_error() {
    let row = r#"{"date":"2026-03-01","platform":"google","account_id":"a","campaign_id":"c","ad_group_id":"g","ad_id":"x","currency":"EUR","impressions":1,"clicks":1,"cost":1,"conversions":0,"revenue":0}"#;
    let long = row.replace("\"x\"", &format!("\"{}\"", "x".repeat(500)));
    let payload = format!("{row}\n{long}\n{}", row.replace("\"x\"", "\"y\""));
    let settings = Settings {
        max_line_bytes: 300,
        ..Settings::default()
    };
    let batch = parse(&payload, "ndjson", "generic", &[], &settings);
    assert_eq!(error_places(&batch), [(2, 2, "")]);
    assert_eq!(batch.facts.num_rows(), 2);
}

#[test]
fn gzip_payloads_are_unpacked_within_the_limit() {
    use std::io::Write;
    let payload = format!("{GENERIC}2026-03-01,google,a,c,g,ad1,EUR,10,1,1,0,0\n");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(payload.as_bytes()).unwrap();
    let packed = encoder.finish().unwrap();
    let mut settings = Settings {
        compression: Compression::Gzip,
        ..Settings::default()
    };
    let batch = parse_batch::<&str, &str>(&packed, "csv", "generic", &[], &settings).unwrap();
    assert_eq!(batch.facts.num_rows(), 1);
    settings.max_decompressed_bytes = payload.len() as u64 - 1;
    let err = parse_batch::<&str, &str>(&packed, "csv", "generic", &[], &settings).unwrap_err();
    assert_eq!(err.code, PayloadErrorCode::PayloadTooLarge);
}
