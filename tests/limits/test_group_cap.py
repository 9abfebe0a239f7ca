"""QueryMetrics groups into at most ADPULSE_MAX_GROUPS groups, counted before any is summed:
one more is INVALID_ARGUMENT TOO_MANY_GROUPS naming `dimensions`, the limit and how to narrow;
a date split counts its buckets at the request's granularity. Live server, cap of 4."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from tests.support.facts import to_csv
from tests.support.server import ServerProcess, running_server

CAP = 4
# Three ads on a Monday and the Tuesday after: 3 groups by ad, 6 by ad and day, 3 by ad and week.
ROWS = [
    [day, "google_ads", "acc", "cmp", "Campaign", "ag", f"ad-{i}", "USD", "100", "3", "1.5", "0", "0"]
    for day in ("2026-03-02", "2026-03-03")
    for i in range(3)
]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    with running_server(
        tmp_path_factory.mktemp("groups") / "data", {"ADPULSE_MAX_GROUPS": str(CAP)}
    ) as server:
        with AdpulseClient(server.address, tenant=tenant, api_key=server.admin_key) as client:
            data = to_csv(ROWS).encode()
            batch = ipb.IngestBatch(batch_id="b", text=ipb.TextPayload(format=ipb.TEXT_FORMAT_CSV, data=data))
            (ack,) = client.ingest([batch])
            assert ack.accepted == len(ROWS)
        yield server, tenant


def _query(capped: tuple[ServerProcess, str], request: apb.QueryMetricsRequest) -> object:
    server, tenant = capped
    with grpc.insecure_channel(server.address) as channel:
        try:
            return apb_grpc.AnalyticsServiceStub(channel).QueryMetrics(
                request, metadata=(("x-adpulse-tenant", tenant), *server.key_metadata), timeout=60
            )
        except grpc.RpcError as err:
            return AdpulseError.from_rpc_error(err)


def test_more_groups_than_the_cap_are_refused_naming_dimensions_and_how_to_narrow(
    capped: tuple[ServerProcess, str],
) -> None:
    by_ad_and_day = apb.QueryMetricsRequest(dimensions=[apb.DIMENSION_AD, apb.DIMENSION_DATE])

    error = _query(capped, by_ad_and_day)

    assert isinstance(error, AdpulseError), error
    assert (error.code, error.reason) == ("INVALID_ARGUMENT", "TOO_MANY_GROUPS")
    violation = error.violations[0]
    assert violation.field == "dimensions"
    assert f"at most {CAP}" in violation.description
    assert "filters" in violation.description and "coarser granularity" in violation.description


def test_within_the_cap_the_query_answers_and_weeks_count_as_weeks(capped: tuple[ServerProcess, str]) -> None:
    by_ad = _query(capped, apb.QueryMetricsRequest(dimensions=[apb.DIMENSION_AD]))
    by_ad_and_week = _query(
        capped,
        apb.QueryMetricsRequest(
            dimensions=[apb.DIMENSION_AD, apb.DIMENSION_DATE], granularity=apb.TIME_GRANULARITY_WEEK
        ),
    )

    assert isinstance(by_ad, apb.QueryMetricsResponse), by_ad
    assert by_ad.total_size == 3
    assert isinstance(by_ad_and_week, apb.QueryMetricsResponse), by_ad_and_week
    assert by_ad_and_week.total_size == 3
