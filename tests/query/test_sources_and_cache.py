"""QueryMetrics through the real server: which source answers, the result cache and its
invalidation by restatement and exchange rates, paging from one result, the cache metrics."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from tests.observe.support import moved, scrape, value
from tests.support.facts import Fact, expected_groups, latest_by_key, random_facts, restated, to_csv
from tests.support.server import ServerProcess

FACTS = random_facts(seed=14, n_campaigns=8, days=10)
BY_CAMPAIGN = apb.QueryMetricsRequest(dimensions=[apb.DIMENSION_CAMPAIGN], order_by="campaign")


@pytest.fixture
def stub(server: ServerProcess) -> Iterator[apb_grpc.AnalyticsServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield apb_grpc.AnalyticsServiceStub(channel)


def _load(client: AdpulseClient, workdir: Path, facts: list[Fact], name: str) -> None:
    path = workdir / name
    path.write_text(to_csv(f.csv_values() for f in facts))
    report = client.ingest_files([path])
    assert report.accepted == len(facts) and report.rejected == 0


def _query(
    stub: apb_grpc.AnalyticsServiceStub, server: ServerProcess, tenant: str, request: apb.QueryMetricsRequest
) -> apb.QueryMetricsResponse:
    metadata = (("x-adpulse-tenant", tenant), *server.key_metadata)
    return stub.QueryMetrics(request, metadata=metadata, timeout=60)  # type: ignore[no-any-return]


def _costs(response: apb.QueryMetricsResponse) -> dict[str, Decimal | None]:
    return {r.campaign_id: Decimal(r.metrics.cost_micros.value) / 10**6 for r in response.rows}


def _want_costs(facts: list[Fact]) -> dict[str, Decimal | None]:
    groups = expected_groups(latest_by_key(facts), lambda f: (f.campaign_id,))
    return {str(k[0]): v.cost for k, v in groups.items()}


def test_the_coarsest_source_answers(
    server: ServerProcess,
    client: AdpulseClient,
    tenant: str,
    workdir: Path,
    stub: apb_grpc.AnalyticsServiceStub,
) -> None:
    _load(client, workdir, FACTS, "facts.csv")
    sources = {
        "platform": (apb.DIMENSION_PLATFORM, apb.QUERY_SOURCE_ACCOUNT_DAILY),
        "date": (apb.DIMENSION_DATE, apb.QUERY_SOURCE_ACCOUNT_DAILY),
        "campaign": (apb.DIMENSION_CAMPAIGN, apb.QUERY_SOURCE_CAMPAIGN_DAILY),
        "ad": (apb.DIMENSION_AD, apb.QUERY_SOURCE_FACTS),
    }
    for name, (dimension, source) in sources.items():
        response = _query(stub, server, tenant, apb.QueryMetricsRequest(dimensions=[dimension]))
        assert response.source == source, name
    response = _query(stub, server, tenant, BY_CAMPAIGN)
    assert _costs(response) == _want_costs(FACTS)


def test_a_restatement_or_new_rates_are_seen_at_once_and_the_rest_is_cached(
    server: ServerProcess,
    client: AdpulseClient,
    tenant: str,
    workdir: Path,
    stub: apb_grpc.AnalyticsServiceStub,
) -> None:
    _load(client, workdir, FACTS, "facts.csv")
    before = scrape(server.metrics_url)
    first = _query(stub, server, tenant, BY_CAMPAIGN)
    again = _query(stub, server, tenant, BY_CAMPAIGN)
    assert (first.cached, again.cached) == (False, True)
    assert again.rows == first.rows and again.totals == first.totals
    after = scrape(server.metrics_url)
    assert moved(before, after, "adpulse_cache_requests_total", cache="query_results", result="hit") >= 1
    assert value(after, "adpulse_cache_bytes", cache="query_results") > 0

    late = [restated(f, cost=f.cost + Decimal("1.25")) for f in FACTS if f.campaign_id == "cmp-3"]
    _load(client, workdir, late, "late.csv")
    fresh = _query(stub, server, tenant, BY_CAMPAIGN)
    assert not fresh.cached
    assert _costs(fresh) == _want_costs([*FACTS, *late])
    assert _costs(fresh)["cmp-3"] != _costs(first)["cmp-3"]

    client.upsert_fx_rates([("2026-03-01", "EUR", "USD", "1.1")])
    assert not _query(stub, server, tenant, BY_CAMPAIGN).cached


def test_later_pages_come_from_the_result_the_first_page_was_cut_from(
    server: ServerProcess,
    client: AdpulseClient,
    tenant: str,
    workdir: Path,
    stub: apb_grpc.AnalyticsServiceStub,
) -> None:
    _load(client, workdir, FACTS, "facts.csv")
    page_request = apb.QueryMetricsRequest()
    page_request.CopyFrom(BY_CAMPAIGN)
    page_request.page_size = 3
    first = _query(stub, server, tenant, page_request)
    assert first.next_page_token and first.total_size == 8

    late = [restated(f, cost=f.cost + Decimal(7)) for f in FACTS]
    _load(client, workdir, late, "late.csv")
    pages = [first]
    while pages[-1].next_page_token:
        page_request.page_token = pages[-1].next_page_token
        pages.append(_query(stub, server, tenant, page_request))
    assert all(p.cached for p in pages[1:])
    listed = {k: v for p in pages for k, v in _costs(p).items()}
    assert listed == _want_costs(FACTS)  # the listing is of the data before the restatement
    assert _costs(_query(stub, server, tenant, BY_CAMPAIGN)) == _want_costs([*FACTS, *late])
