"""Every request is checked against the caps before work, on the live server: each refusal is
INVALID_ARGUMENT with a BadRequest violation naming the field and the limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from adpulse.client import AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import ingest_service_pb2_grpc as ipb_grpc
from adpulse.v1 import ingestion_run_pb2 as rpb
from tests.support.server import ServerProcess


@pytest.fixture
def call(server: ServerProcess, tenant: str) -> Iterator[Callable[[str, Message], Any]]:
    """Calls RPC `name` of the analytics or ingest service; the refusal as an AdpulseError."""
    with grpc.insecure_channel(server.address) as channel:
        stubs = (apb_grpc.AnalyticsServiceStub(channel), ipb_grpc.IngestServiceStub(channel))
        metadata = (("x-adpulse-tenant", tenant), *server.key_metadata)

        def run(name: str, request: Message) -> Any:
            stub = next(s for s in stubs if hasattr(s, name))
            try:
                return getattr(stub, name)(request, metadata=metadata, timeout=30)
            except grpc.RpcError as err:
                return AdpulseError.from_rpc_error(err)

        yield run


DAILY = apb.TIME_GRANULARITY_DAY


@pytest.mark.parametrize(
    ("name", "request_", "field", "says"),
    [
        ("QueryMetrics", apb.QueryMetricsRequest(start_date="0001-01-01"), "start_date", "1970-01-01"),
        ("QueryMetrics", apb.QueryMetricsRequest(end_date="9999-12-31"), "end_date", "2149-12-31"),
        (
            "GetTrends",
            apb.GetTrendsRequest(start_date="5100-01-01", end_date="9999-01-01", metrics=[apb.METRIC_COST]),
            "start_date",
            "2149-12-31",
        ),
        (
            "QueryMetrics",
            apb.QueryMetricsRequest(start_date="2000-01-01", end_date="2020-12-31", granularity=DAILY),
            "end_date",
            "at most 1830 days",
        ),
        ("ListBudgets", apb.ListBudgetsRequest(month="0000-01"), "month", "1970-01-01"),
        ("ListBudgets", apb.ListBudgetsRequest(page_size=-1), "page_size", "negative"),
        (
            "DetectAnomalies",
            apb.DetectAnomaliesRequest(metric=apb.METRIC_COST, window_days=1_000_000),
            "window_days",
            "between 0 and 366",
        ),
        (
            "QueryMetrics",
            apb.QueryMetricsRequest(
                filters=[apb.DimensionFilter(dimension=apb.DIMENSION_CAMPAIGN, values=["c"] * 3_000_000)]
            ),
            "filters[0].values",
            "at most 1000",
        ),
        (
            "UpsertFxRates",
            ipb.UpsertFxRatesRequest(
                rates=[rpb.FxRate(date="1969-12-31", base_currency="EUR", quote_currency="USD", rate="1.1")]
            ),
            "rates[0].date",
            "1970-01-01",
        ),
        (
            "GetCheckpoint",
            ipb.GetCheckpointRequest(source="generic", name="night\0ly"),
            "name",
            "control character",
        ),
    ],
    ids=[
        "year-1",
        "year-9999",
        "trends-5100",
        "daily-span",
        "month-0000",
        "negative-page",
        "window-1e6",
        "3M-filter-values",
        "fx-1969",
        "nul-text",
    ],
)
def test_over_a_cap_is_invalid_argument_naming_field_and_limit(
    call: Callable[[str, Message], Any], name: str, request_: Message, field: str, says: str
) -> None:
    error = call(name, request_)

    assert isinstance(error, AdpulseError), error
    assert error.code == "INVALID_ARGUMENT"
    assert [v.field for v in error.violations][:1] == [field]
    assert says in error.violations[0].description


def test_within_the_caps_a_long_span_is_fine_at_a_coarser_granularity(
    call: Callable[[str, Message], Any],
) -> None:
    monthly = apb.QueryMetricsRequest(
        start_date="1970-01-01", end_date="2149-12-31", granularity=apb.TIME_GRANULARITY_MONTH
    )

    response = call("QueryMetrics", monthly)

    assert isinstance(response, apb.QueryMetricsResponse), response
