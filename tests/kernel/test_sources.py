"""Platform exports in tests/fixtures parse to hand-checked facts; drift and options are refused
or reported as the contract says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adpulse import _kernel

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fact(  # noqa: PLR0917 - a fact row, field by field, as the tables below write it
    day: str,
    platform: str,
    ids: tuple[str, str, str, str],
    name: str,
    currency: str,
    measures: tuple[int, int, int, int, int],
) -> dict[str, object]:
    account, campaign, group, ad = ids
    impressions, clicks, cost, conversions, revenue = measures
    return {
        "date": dt.date.fromisoformat(day),
        "platform": platform,
        "account_id": account,
        "campaign_id": campaign,
        "campaign_name": name,
        "ad_group_id": group,
        "ad_id": ad,
        "currency": currency,
        "impressions": impressions,
        "clicks": clicks,
        "cost_micros": cost,
        "conversions_micros": conversions,
        "revenue_micros": revenue,
    }


G, M, T, L = "google_ads", "meta_ads", "tiktok_ads", "linkedin_ads"
ACME = "1234567890"
SHOP = "9876543210"
META = "1029384756"
C1, C2 = "23850000000000001", "23850000000000002"
TT = "7000000000000000001"
TC1, TC2 = "1780000000000001", "1780000000000002"

# (fixture, source, options, facts, ignored, missing) — every number worked out by hand from
# the file: micros are units × 10^6, half to even past six decimals.
CASES: list[tuple[str, str, dict[str, str], list[dict[str, object]], list[str], list[str]]] = [
    (
        "google_ads/ad_performance.csv", G, {},
        [
            fact("2026-03-01", G, (ACME, "111", "2221", "700001"), "Brand - Search", "EUR",
                 (1520, 87, 45_670_000, 3_500_000, 420_750_000)),
            fact("2026-03-01", G, (ACME, "111", "2221", "700002"), "Brand - Search", "EUR",
                 (980, 41, 21_030_000, 1_000_000, 89_900_000)),
            # 0.333333333 → 333333.333 micros → 333333; 12.3456789 → 12345678.9 → 12345679.
            fact("2026-03-01", G, (ACME, "112", "2231", "700010"), "Generic, Broad", "EUR",
                 (15000, 120, 98_765_432, 333_333, 12_345_679)),
            fact("2026-03-02", G, (ACME, "111", "2221", "700001"), "Brand - Search", "EUR",
                 (1610, 92, 48_100_000, 4_000_000, 510_000_000)),
        ],
        [], [],
    ),
    (
        # REST JSON: nested camelCase, int64 as strings, zero metrics left out, no ad level (an
        # ad-group report, so no ad column is expected of it).
        "google_ads/ad_group_performance.ndjson", G, {},
        [
            fact("2026-03-01", G, (SHOP, "301", "4001", "4001"), "Shopping - All", "USD",
                 (9800, 210, 187_450_000, 12_500_000, 1_843_200_000)),
            fact("2026-03-01", G, (SHOP, "301", "4002", "4002"), "Shopping - All", "USD",
                 (2200, 14, 9_990_000, 0, 0)),
            fact("2026-03-02", G, (SHOP, "302", "4010", "4010"), "Performance Max", "USD",
                 (2, 3, 1_500_000, 250_000, 7_500_000)),
        ],
        [], [],
    ),
    (
        # Default action type `purchase`: omni_purchase and link_click are not counted.
        "meta_ads/insights.ndjson", M, {},
        [
            fact("2026-03-01", M, (META, C1, "23850000000000101", "23850000000001001"),
                 "Prospecting - Broad", "USD", (2500, 61, 45_670_000, 3_000_000, 150_500_000)),
            fact("2026-03-01", M, (META, C1, "23850000000000101", "23850000000001002"),
                 "Prospecting - Broad", "USD", (1800, 22, 19_020_000, 0, 0)),
            fact("2026-03-01", M, (META, C2, "23850000000000201", "23850000000002001"),
                 "Retargeting", "USD", (640, 31, 12_005_000, 2_000_000, 99_990_000)),
        ],
        [], [],
    ),
    (
        "meta_ads/insights.ndjson", M, {"action_types": "purchase, lead", "value_action_types": "purchase"},
        [
            fact("2026-03-01", M, (META, C1, "23850000000000101", "23850000000001001"),
                 "Prospecting - Broad", "USD", (2500, 61, 45_670_000, 3_000_000, 150_500_000)),
            fact("2026-03-01", M, (META, C1, "23850000000000101", "23850000000001002"),
                 "Prospecting - Broad", "USD", (1800, 22, 19_020_000, 0, 0)),
            fact("2026-03-01", M, (META, C2, "23850000000000201", "23850000000002001"),
                 "Retargeting", "USD", (640, 31, 12_005_000, 3_000_000, 99_990_000)),
        ],
        [], [],
    ),
    (
        # Lists as JSON-encoded cells; names of accounts, ad sets and ads are known, not read.
        # Revenue sums value_action_types, which defaults to action_types (purchase 201.25).
        "meta_ads/insights.csv", M, {"action_types": "purchase,lead"},
        [
            fact("2026-03-02", M, (META, C1, "23850000000000101", "23850000000001001"),
                 "Prospecting - Broad", "USD", (2710, 70, 50_100_000, 6_000_000, 201_250_000)),
            # 13.3333333 → 13333333.3 micros → 13333333; empty list cells are no actions.
            fact("2026-03-02", M, (META, C2, "23850000000000201", "23850000000002001"),
                 "Retargeting", "USD", (700, 35, 13_333_333, 0, 0)),
        ],
        ["reach"], [],
    ),
    (
        "tiktok_ads/integrated_report.ndjson", T, {},
        [
            fact("2026-03-01", T, (TT, TC1, "1785000000000001", "1790000000000001"), "Spring Launch",
                 "USD", (3000, 45, 25_500_000, 2_000_000, 89_980_000)),
            fact("2026-03-01", T, (TT, TC1, "1785000000000001", "1790000000000002"), "Spring Launch",
                 "USD", (0, 0, 0, 0, 0)),
            fact("2026-03-02", T, (TT, TC2, "1785000000000002", "1790000000000003"), "Always On",
                 "USD", (812, 9, 7_125_000, 1_000_000, 19_900_000)),
        ],
        [], [],
    ),
    (
        # Campaign level: the ad group and ad take the campaign's id, and a report of that
        # level expects no ad group or ad columns (not drift).
        "tiktok_ads/campaign_report.csv", T, {"value_field": "complete_payment"},
        [
            fact("2026-03-01", T, (TT, TC1, TC1, TC1), "Spring Launch", "EUR",
                 (15200, 240, 120_400_000, 6_000_000, 310_000_000)),
            fact("2026-03-02", T, (TT, TC1, TC1, TC1), "Spring Launch", "EUR",
                 (12001, 201, 98_100_000, 5_000_000, 255_550_000)),
        ],
        [], [],
    ),
    (
        # Campaign group → campaign, campaign → ad group (and, no creative pivot, the ad).
        "linkedin_ads/ad_analytics.ndjson", L,
        {"currency": "EUR", "campaign_groups": "601=508000001,602=508000002"},
        [
            fact("2026-03-01", L, ("508000001", "601", "201", "201"), "", "EUR",
                 (4200, 38, 152_331_000, 2_000_000, 300_000_000)),
            # 57.8399999999 → 57839999.9999 micros → 57840000.
            fact("2026-03-01", L, ("508000001", "601", "202", "202"), "", "EUR",
                 (1100, 9, 57_840_000, 0, 0)),
            fact("2026-03-02", L, ("508000002", "602", "203", "203"), "", "EUR",
                 (900, 12, 40_500_000, 1_000_000, 120_250_000)),
        ],
        [], [],
    ),
    (
        # No campaign group pivot: the campaign takes the LinkedIn campaign's (ad group's) id.
        "linkedin_ads/creative_analytics.csv", L, {"currency": "EUR", "account_id": "508000001"},
        [
            fact("2026-03-01", L, ("508000001", "201", "201", "90001"), "", "EUR",
                 (2600, 25, 98_200_000, 1_000_000, 150_000_000)),
            fact("2026-03-01", L, ("508000001", "201", "201", "90002"), "", "EUR",
                 (1600, 13, 54_131_000, 1_000_000, 150_000_000)),
        ],
        [], [],
    ),
]  # fmt: skip


def parse_fixture(name: str, source: str, options: dict[str, str]) -> _kernel.ParsedBatch:
    path = FIXTURES / name
    fmt = "csv" if ".csv" in path.name else "ndjson"
    compression = "gzip" if path.suffix == ".gz" else "none"
    return _kernel.parse_batch(path.read_bytes(), fmt, source, options=options, compression=compression)


@pytest.mark.parametrize(("name", "source", "options", "facts", "ignored", "missing"), CASES)
def test_fixtures_parse_to_the_hand_checked_facts(  # noqa: PLR0917 - parametrized
    name: str,
    source: str,
    options: dict[str, str],
    facts: list[dict[str, object]],
    ignored: list[str],
    missing: list[str],
) -> None:
    parsed = parse_fixture(name, source, options)
    assert parsed.errors == []
    assert parsed.facts.to_pylist() == facts
    assert parsed.ignored_columns == ignored
    assert parsed.missing_columns == missing
    assert parsed.source_version == f"{source}/1"
    gz = FIXTURES / (name + ".gz")
    if gz.exists():
        assert parse_fixture(name + ".gz", source, options).facts.to_pylist() == facts


def test_every_source_has_csv_ndjson_and_gzip_fixtures() -> None:
    for source in ("google_ads", "meta_ads", "tiktok_ads", "linkedin_ads"):
        suffixes = {"".join(p.suffixes) for p in (FIXTURES / source).iterdir()}
        assert {".csv", ".ndjson"} <= {s.removesuffix(".gz") for s in suffixes}, source
        assert any(s.endswith(".gz") for s in suffixes), source
    assert set(_kernel.SOURCES) == {"generic", "google_ads", "meta_ads", "tiktok_ads", "linkedin_ads"}


def test_clicks_over_impressions_in_a_fixture_warn_or_reject() -> None:
    name = "google_ads/ad_group_performance.ndjson"
    warned = parse_fixture(name, G, {})
    assert [(w.row, w.line, w.field) for w in warned.warnings] == [(3, 3, "metrics.clicks")]
    assert warned.warnings[0].reason == "'3' clicks are more than the row's 2 impressions"
    rejected = _kernel.parse_batch(
        (FIXTURES / name).read_bytes(), "ndjson", G, clicks_over_impressions="reject"
    )
    assert [(e.row, e.field) for e in rejected.errors] == [(3, "metrics.clicks")]
    assert (rejected.rows_rejected, rejected.facts.num_rows, rejected.warnings) == (1, 2, [])


LI = {"currency": "EUR", "account_id": "1"}

# Each platform's money and count columns, renamed: MISSING_COLUMNS naming the expected column
# and the unknown one, never a silent zero.
RENAMES = [
    ("google_ads/ad_performance.csv", G, {}, "metrics.cost_micros", "metrics.cost"),
    ("google_ads/ad_performance.csv", G, {}, "metrics.impressions", "metrics.impression"),
    ("google_ads/ad_performance.csv", G, {}, "metrics.clicks", "metrics.interactions"),
    ("google_ads/ad_performance.csv", G, {}, "metrics.conversions_value", "metrics.conversion_value"),
    ("meta_ads/insights.csv", M, {}, "spend", "amount_spent"),
    ("meta_ads/insights.csv", M, {}, "impressions", "impression"),
    ("meta_ads/insights.csv", M, {}, "clicks", "link_clicks"),
    ("tiktok_ads/campaign_report.csv", T, {"value_field": "complete_payment"}, "spend", "cost"),
    ("tiktok_ads/campaign_report.csv", T, {"value_field": "complete_payment"}, "conversion", "conversions"),
    ("tiktok_ads/campaign_report.csv", T, {}, "complete_payment", "complete_payment"),
    ("linkedin_ads/creative_analytics.csv", L, LI, "costInLocalCurrency", "costInUsd"),
    ("linkedin_ads/creative_analytics.csv", L, LI, "clicks", "landingPageClicks"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "source", "options", "column", "renamed"), RENAMES)
def test_a_renamed_money_or_count_column_is_missing_not_zero(
    name: str, source: str, options: dict[str, str], column: str, renamed: str
) -> None:
    text = (FIXTURES / name).read_text()
    header, body = text.split("\n", 1)
    columns = header.split(",")
    columns[columns.index(column)] = renamed
    payload = (",".join(columns) + "\n" + body).encode()
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(payload, "csv", source, options=options)
    code, message = caught.value.args
    assert code == "MISSING_COLUMNS"
    expected = "total_complete_payment_rate" if renamed == column else column
    assert f"missing columns: {expected}" in message
    assert renamed in message.split("unknown columns: ")[1].split(", ")


def test_a_renamed_nested_json_metric_is_missing_too() -> None:
    text = (FIXTURES / "google_ads/ad_group_performance.ndjson").read_text()
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(text.replace('"costMicros"', '"cost"').encode(), "ndjson", G)
    assert caught.value.args == (
        "MISSING_COLUMNS",
        "missing columns: metrics.cost_micros; unknown columns: metrics.cost",
    )


@pytest.mark.parametrize(
    ("source", "options", "code"),
    [
        ("generic", {}, None),
        ("generic", {"currency": "EUR"}, "UNKNOWN_OPTION"),
        ("yahoo_ads", {}, "UNKNOWN_SOURCE"),
        ("google_ads", {"currency": "eur"}, None),
        ("google_ads", {"currency": "EURO"}, "INVALID_OPTION"),
        ("meta_ads", {"action_types": "purchase,omni_purchase"}, None),
        ("meta_ads", {"action_types": ""}, "INVALID_OPTION"),
        ("meta_ads", {"value_field": "x"}, "UNKNOWN_OPTION"),
        ("tiktok_ads", {"value_field": "complete_payment"}, None),
        ("tiktok_ads", {"value_field": " "}, "INVALID_OPTION"),
        ("linkedin_ads", {"currency": "USD", "account_id": "5"}, None),
        ("linkedin_ads", {"account_id": "5"}, "INVALID_OPTION"),
        ("linkedin_ads", {"currency": "USD"}, "INVALID_OPTION"),
        ("linkedin_ads", {"currency": "USD", "campaign_groups": "1=a,2"}, "INVALID_OPTION"),
        ("linkedin_ads", {"currency": "USD", "campaign_groups": "1=a, 2=b"}, None),
    ],
)
def test_source_options_are_checked(source: str, options: dict[str, str], code: str | None) -> None:
    if code is None:
        _kernel.check_source_options(source, options)
        return
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.check_source_options(source, options)
    assert caught.value.args[0] == code
    assert caught.value.args[1]
    with pytest.raises(_kernel.PayloadError) as again:
        _kernel.parse_batch(b"", "csv", source, options=options)
    assert again.value.args[0] == code
