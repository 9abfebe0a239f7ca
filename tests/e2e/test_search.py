"""SearchDimensionValues on the live server: prefix and substring, case-insensitive, ranked by
recent cost, paged, literal wildcards, restated rows replacing (never adding to) their cost,
and another tenant's names never found."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from tests.e2e.test_cli import adpulse
from tests.support.facts import Fact, to_csv
from tests.support.server import ServerProcess

NEWEST = dt.date(2026, 11, 30)
OLD = NEWEST - dt.timedelta(days=60)  # outside the 30-day recent window


def _fact(
    day: dt.date, campaign: str, name: str, cost: str, *, platform: str = "google_ads", ad: str = ""
) -> Fact:
    return Fact(
        date=day,
        platform=platform,
        account_id="acct-1",
        campaign_id=campaign,
        campaign_name=name,
        ad_group_id=f"{campaign}-ag",
        ad_id=ad or f"{campaign}-ad",
        currency="USD",
        impressions=1000,
        clicks=10,
        cost=Decimal(cost),
        conversions=Decimal(1),
        revenue=Decimal(0),
    )


FACTS = [
    _fact(NEWEST, "c-sale", "Summer Sale", "300"),
    _fact(NEWEST - dt.timedelta(days=1), "c-sale", "Summer Sale", "200"),
    _fact(NEWEST, "c-clear", "summer_clearance", "50", platform="meta_ads"),
    _fact(NEWEST, "c-mid", "Big Winter Summer", "900"),
    _fact(OLD, "c-old", "SUMMER archive", "10000"),
    _fact(NEWEST, "summer-id-7", "Unrelated", "10", ad="summer-ad-1"),
    _fact(NEWEST, "c-pct", "50% off", "5"),
    _fact(NEWEST, "c-50", "50 off", "6"),
    _fact(NEWEST, "c-us", "a_b", "7"),
    _fact(NEWEST, "c-ux", "axb", "8"),
    _fact(NEWEST, "c-bs", "back\\slash", "9"),
]


def _ingest(client: AdpulseClient, path: Path, facts: list[Fact]) -> None:
    path.write_text(to_csv(f.csv_values() for f in facts))
    report = client.ingest_files([path])
    assert report.rejected == 0 and report.accepted == len(facts)


@pytest.fixture
def loaded(client: AdpulseClient, workdir: Path) -> AdpulseClient:
    _ingest(client, workdir / "facts.csv", FACTS)
    return client


def _found(client: AdpulseClient, query: str, **kwargs: object) -> list[tuple[str, str, str, int]]:
    response = client.search(query, limit=100, **kwargs)  # type: ignore[arg-type]
    kinds = {apb.DIMENSION_ACCOUNT: "account", apb.DIMENSION_CAMPAIGN: "campaign"}
    kinds |= {apb.DIMENSION_AD_GROUP: "ad_group", apb.DIMENSION_AD: "ad"}
    return [(kinds[v.kind], v.id, v.name, v.recent_cost_micros) for v in response.values]


def test_prefix_is_case_insensitive_and_ranked_by_recent_cost(loaded: AdpulseClient) -> None:
    found = _found(loaded, "SUMMER", kinds=["campaign"])
    assert found == [
        ("campaign", "c-sale", "Summer Sale", 500_000_000),
        ("campaign", "c-clear", "summer_clearance", 50_000_000),
        ("campaign", "summer-id-7", "Unrelated", 10_000_000),  # by its id
        # Its spend is older than the window: found, but last.
        ("campaign", "c-old", "SUMMER archive", 0),
    ]
    response = loaded.search("summer", kinds=["campaign"])
    first = NEWEST - dt.timedelta(days=29)
    assert (response.recent_start_date, response.recent_end_date) == (first.isoformat(), NEWEST.isoformat())
    assert response.total_size == 4


def test_substring_finds_inside_names_and_the_kinds_filter_ids(loaded: AdpulseClient) -> None:
    found = _found(loaded, "mmer", match="substring", kinds=["campaign"])
    assert [f[1] for f in found] == ["c-mid", "c-sale", "c-clear", "summer-id-7", "c-old"]
    assert _found(loaded, "mmer", kinds=["campaign"]) == []
    assert _found(loaded, "summer-ad", kinds=["ad"]) == [("ad", "summer-ad-1", "", 10_000_000)]
    assert _found(loaded, "summer", kinds=["campaign"], platforms=["meta_ads"]) == [
        ("campaign", "c-clear", "summer_clearance", 50_000_000)
    ]
    # Every kind: an account sums its campaigns' recent cost (one per platform here).
    assert _found(loaded, "acct") == [
        ("account", "acct-1", "", 1_445_000_000),
        ("account", "acct-1", "", 50_000_000),
    ]


def test_wildcards_match_literally(loaded: AdpulseClient) -> None:
    assert [f[2] for f in _found(loaded, "50%", kinds=["campaign"])] == ["50% off"]
    assert [f[2] for f in _found(loaded, "a_", kinds=["campaign"])] == ["a_b"]
    assert [f[2] for f in _found(loaded, "back\\", kinds=["campaign"])] == ["back\\slash"]
    assert _found(loaded, "%", kinds=["campaign"], match="substring")[0][2] == "50% off"


def test_pages_cover_the_listing_once(loaded: AdpulseClient) -> None:
    whole = loaded.search("", limit=100)
    request = apb.SearchDimensionValuesRequest(page_size=3)
    paged: list[apb.DimensionValue] = []
    while True:
        page = loaded.search_page(request)
        assert page.total_size == whole.total_size
        paged.extend(page.values)
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert [v.SerializeToString() for v in paged] == [v.SerializeToString() for v in whole.values]
    assert len(paged) == whole.total_size == 3 * 10 + 2  # ten campaigns' three levels, two accounts
    costs = [v.recent_cost_micros for v in paged]
    assert costs == sorted(costs, reverse=True)
    first = loaded.search_page(apb.SearchDimensionValuesRequest(page_size=3))
    with pytest.raises(AdpulseError) as refused:
        loaded.search_page(apb.SearchDimensionValuesRequest(query="x", page_token=first.next_page_token))
    assert refused.value.code == "INVALID_ARGUMENT"


def test_restated_rows_replace_their_cost_and_a_new_name_wins(loaded: AdpulseClient, workdir: Path) -> None:
    restated = [
        _fact(NEWEST, "c-sale", "Summer Sale", "1"),  # was 300
        _fact(NEWEST, "c-clear", "Autumn clearance", "2000", platform="meta_ads"),  # renamed
    ]
    _ingest(loaded, workdir / "restated.csv", restated)
    assert _found(loaded, "summer", kinds=["campaign"]) == [
        ("campaign", "c-sale", "Summer Sale", 201_000_000),
        ("campaign", "summer-id-7", "Unrelated", 10_000_000),
        ("campaign", "c-old", "SUMMER archive", 0),
    ]
    assert _found(loaded, "autumn", kinds=["campaign"]) == [
        ("campaign", "c-clear", "Autumn clearance", 2_000_000_000)
    ]


def test_another_tenants_values_are_invisible(
    loaded: AdpulseClient, server: ServerProcess, workdir: Path
) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    with AdpulseClient(server.address, tenant=other, api_key=server.admin_key) as theirs:
        assert theirs.search("summer").values == []
        _ingest(theirs, workdir / "theirs.csv", [_fact(NEWEST, "c-theirs", "Summer of theirs", "99999")])
        assert [v.id for v in theirs.search("summer", kinds=["campaign"]).values] == ["c-theirs"]
    assert "c-theirs" not in [f[1] for f in _found(loaded, "summer", match="substring")]


def test_bad_searches_name_the_field(loaded: AdpulseClient) -> None:
    cases = {
        "query": apb.SearchDimensionValuesRequest(query="s" * 201),
        "kinds[0]": apb.SearchDimensionValuesRequest(kinds=[apb.DIMENSION_DATE]),
        "page_size": apb.SearchDimensionValuesRequest(page_size=-1),
    }
    for field, request in cases.items():
        with pytest.raises(AdpulseError) as refused:
            loaded.search_page(request)
        assert refused.value.code == "INVALID_ARGUMENT"
        assert [v.field for v in refused.value.violations] == [field]
    with pytest.raises(AdpulseError) as refused:
        loaded.search_page(apb.SearchDimensionValuesRequest(query="sum\0mer"))
    assert refused.value.reason == "CONTROL_CHARACTER"
    # Too large a page is cut to the maximum (AIP-158), not refused.
    assert len(loaded.search_page(apb.SearchDimensionValuesRequest(page_size=5000)).values) == 32


def test_cli_search_prints_a_table_and_json(
    loaded: AdpulseClient, server: ServerProcess, tenant: str
) -> None:
    out = adpulse(server, tenant, "search", "summer", "--kind", "campaign", "--limit", "2", "--json")
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert [(v["kind"], v["id"], v["name"], v["recent_cost"]) for v in document["values"]] == [
        ("campaign", "c-sale", "Summer Sale", "500.00"),
        ("campaign", "c-clear", "summer_clearance", "50.00"),
    ]
    assert document["total_size"] == 4 and document["recent_end_date"] == NEWEST.isoformat()
    table = adpulse(server, tenant, "search", "MMER", "--match", "substring", "--kind", "campaign")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "kind",
        "id",
        "name",
        "platform",
        "account_id",
        "campaign_id",
        "currency",
        "recent_cost",
        "last_date",
    ]
    assert [line.split()[1] for line in lines[2:]] == ["c-mid", "c-sale", "c-clear", "summer-id-7", "c-old"]
    assert "900.00" in lines[2]
    refused = adpulse(server, tenant, "search", "x" * 201)
    assert refused.returncode == 1 and "query" in refused.stderr and "Traceback" not in refused.stderr
