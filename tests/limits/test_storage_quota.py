"""Each tenant's uploads and exports are bounded by its storage quota (ADPULSE_TENANT_STORAGE_BYTES,
with per-tenant overrides): past it an upload is RESOURCE_EXHAUSTED with a QuotaFailure naming
the quota, and leaves nothing behind; an export does not start. On a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import ingest_service_pb2_grpc as ipb_grpc
from tests.support.facts import random_facts, to_csv
from tests.support.server import ServerProcess, running_server

MIB = 1 << 20
QUOTA = 4 * MIB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_TENANT_STORAGE_BYTES": str(QUOTA),
        "ADPULSE_TENANT_STORAGE_OVERRIDES": f"roomy={4 * QUOTA}",
    }
    with running_server(tmp_path_factory.mktemp("quota") / "data", env) as process:
        yield process


def _upload(server: ServerProcess, tenant: str, size: int) -> grpc.RpcError | ipb.UploadFileResponse:
    def requests() -> Iterator[ipb.UploadFileRequest]:
        yield ipb.UploadFileRequest(header=ipb.UploadFileHeader(file_name="rows.csv"))
        for _ in range(size // MIB):
            yield ipb.UploadFileRequest(data=b"x" * MIB)

    with grpc.insecure_channel(server.address) as channel:
        stub = ipb_grpc.IngestServiceStub(channel)
        metadata = (("x-adpulse-tenant", tenant), *server.key_metadata)
        try:
            response: ipb.UploadFileResponse = stub.UploadFile(requests(), metadata=metadata, timeout=60)
        except grpc.RpcError as err:
            return err
        return response


def _quota_subject(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    quota = error_details_pb2.QuotaFailure()
    assert any(d.Unpack(quota) for d in status.details if d.Is(quota.DESCRIPTOR))
    return quota.violations[0].subject


def _uploaded_bytes(server: ServerProcess, tenant: str) -> int:
    uploads = server.data_dir / "imports" / tenant / "uploads"
    return sum(p.stat().st_size for p in uploads.rglob("*") if p.is_file())


def test_an_upload_past_the_quota_is_refused_naming_it_and_leaves_nothing(
    server: ServerProcess, tenant: str
) -> None:
    assert isinstance(_upload(server, tenant, 3 * MIB), ipb.UploadFileResponse)

    refused = _upload(server, tenant, 2 * MIB)

    assert isinstance(refused, grpc.RpcError)
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert _quota_subject(refused) == "storage_bytes_per_tenant"
    assert str(QUOTA) in (refused.details() or "")  # type: ignore[attr-defined]
    assert _uploaded_bytes(server, tenant) == 3 * MIB
    assert isinstance(_upload(server, tenant, 1 * MIB), ipb.UploadFileResponse), "what fits still fits"


def test_a_tenant_with_its_own_quota_may_keep_more(server: ServerProcess) -> None:
    assert isinstance(_upload(server, "roomy", 2 * QUOTA), ipb.UploadFileResponse)


def test_an_export_does_not_start_once_the_quota_is_full(
    server: ServerProcess, tenant: str, workdir: Path
) -> None:
    with AdpulseClient(server.address, tenant=tenant, api_key=server.admin_key) as client:
        path = workdir / "facts.csv"
        path.write_text(to_csv(f.csv_values() for f in random_facts(seed=3, n_campaigns=2, days=3)))
        assert client.ingest_files([path]).rejected == 0
        assert isinstance(_upload(server, tenant, QUOTA), ipb.UploadFileResponse)

        started = client.export_metrics(apb.ExportMetricsRequest(dimensions=[apb.DIMENSION_CAMPAIGN]))
        done = client.wait_operation(started.name, timeout=50)
        while not done.done:
            done = client.wait_operation(started.name, timeout=50)

    assert done.error is not None, done
    assert (done.error.code, done.error.reason) == ("RESOURCE_EXHAUSTED", "STORAGE_QUOTA_EXCEEDED")
