"""GetTrends and DetectAnomalies split into at most ADPULSE_MAX_SERIES series (10 000), counted
before any is computed: one more is INVALID_ARGUMENT naming `dimensions` and the limit and saying
how to narrow; the same request narrowed by a filter answers. On the live server, default cap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from tests.support.facts import to_csv
from tests.support.server import ServerProcess

CAP = 10_000
DAY = "2026-03-02"


@pytest.fixture
def call(server: ServerProcess, tenant: str) -> Iterator[Callable[[str, Message], Any]]:
    with grpc.insecure_channel(server.address) as channel:
        stub = apb_grpc.AnalyticsServiceStub(channel)
        metadata = (("x-adpulse-tenant", tenant), *server.key_metadata)

        def run(name: str, request: Message) -> Any:
            try:
                return getattr(stub, name)(request, metadata=metadata, timeout=120)
            except grpc.RpcError as err:
                return AdpulseError.from_rpc_error(err)

        yield run


@pytest.fixture
def one_more_ad_than_the_cap(client: AdpulseClient, workdir: Path) -> None:
    """CAP + 1 ads on one day, in two campaigns (the first holds half of them)."""
    measures = ["100", "3", "1.5", "0", "0"]
    rows = (
        [DAY, "google_ads", "acc", f"cmp-{i % 2}", f"Campaign {i % 2}", "ag", f"ad-{i}", "USD", *measures]
        for i in range(CAP + 1)
    )
    path = workdir / "ads.csv"
    path.write_text(to_csv(rows))
    report = client.ingest_files([path])
    assert (report.accepted, report.rejected) == (CAP + 1, 0)


BY_AD = [apb.DIMENSION_AD]
ONE_CAMPAIGN = [apb.DimensionFilter(dimension=apb.DIMENSION_CAMPAIGN, values=["cmp-0"])]
REQUESTS = {
    "GetTrends": lambda filters: apb.GetTrendsRequest(
        start_date=DAY, end_date=DAY, metrics=[apb.METRIC_COST], dimensions=BY_AD, filters=filters
    ),
    "DetectAnomalies": lambda filters: apb.DetectAnomaliesRequest(
        start_date=DAY, end_date=DAY, metric=apb.METRIC_COST, dimensions=BY_AD, filters=filters
    ),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
@pytest.mark.usefixtures("one_more_ad_than_the_cap")
def test_one_series_over_the_cap_is_refused_naming_dimensions_and_how_to_narrow(
    call: Callable[[str, Message], Any], name: str
) -> None:
    error = call(name, REQUESTS[name]([]))

    assert isinstance(error, AdpulseError), type(error)
    assert error.code == "INVALID_ARGUMENT"
    assert error.reason == "TOO_MANY_SERIES"
    violation = error.violations[0]
    assert violation.field == "dimensions"
    assert f"at most {CAP}" in violation.description
    assert "filters" in violation.description and "shorter date range" in violation.description


@pytest.mark.usefixtures("one_more_ad_than_the_cap")
def test_narrowed_by_a_filter_the_same_split_answers(call: Callable[[str, Message], Any]) -> None:
    trends = call("GetTrends", REQUESTS["GetTrends"](ONE_CAMPAIGN))
    anomalies = call("DetectAnomalies", REQUESTS["DetectAnomalies"](ONE_CAMPAIGN))

    assert isinstance(trends, apb.GetTrendsResponse), trends
    assert trends.total_size == (CAP + 2) // 2
    assert isinstance(anomalies, apb.DetectAnomaliesResponse), anomalies
