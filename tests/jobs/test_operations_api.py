"""google.longrunning.Operations and the RPCs that start operations, against the real server
(embedded shape: the Celery worker runs in the server, Postgres is the broker)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adpulse.client import AdpulseClient, AdpulseError, demo
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import operation_pb2 as opb
from tests.e2e.test_grpcurl import key
from tests.support.server import ServerProcess


def _error(call: object) -> AdpulseError:
    with pytest.raises(AdpulseError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_backfill_runs_to_success_and_is_listed_and_deleted(client: AdpulseClient) -> None:
    started = client.backfill("2026-03-01", "2026-03-20")
    assert started.name.startswith("operations/op-")
    assert started.metadata.kind == opb.OPERATION_KIND_BACKFILL
    done = client.wait_operation(started.name, timeout=60)
    assert done.done and done.state == "succeeded", done
    assert done.metadata.progress_percent == 100
    assert done.metadata.HasField("end_time")
    rollup, insights = done.response.steps
    assert (rollup.step, rollup.days, rollup.rows) == ("campaign_rollup", 20, 0)
    assert (insights.step, insights.days, insights.rows) == ("insights", 20, 0)
    assert [o.name for o in client.operations(filter="kind = backfill")[0]] == [done.name]
    assert client.operations(filter="kind = export_metrics AND done = true")[0] == []
    client.delete_operation(done.name)
    assert _error(lambda: client.operation(done.name)).code == "NOT_FOUND"


def test_a_backfill_of_insights_stores_the_incidents_detection_finds(
    client: AdpulseClient, tmp_path: Path
) -> None:
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    text, incidents = demo.dataset(3, end=end, days=90, campaign_count=10)
    path = tmp_path / "demo.csv"
    path.write_text(text)
    assert client.ingest_files([path]).rejected == 0
    broken = next(i for i in incidents if i.kind == "tracking_break")
    first = end - dt.timedelta(days=27)
    assert broken.start >= first  # the demo puts it in the last four weeks

    done = client.wait_operation(
        client.backfill(first.isoformat(), end.isoformat(), steps=["insights"]).name, timeout=300
    )

    assert done.state == "succeeded", done
    (step,) = done.response.steps
    stored = client.list_insights()
    assert step.step == "insights" and step.days == 28 and step.rows > 0
    assert any(
        i.type == apb.INSIGHT_TYPE_ANOMALY and i.group.campaign_id == broken.campaign.campaign_id
        for i in stored
    ), [i.title for i in stored]


def test_list_pages_newest_first_and_filters_are_checked(client: AdpulseClient) -> None:
    names = [client.backfill("2026-01-01", "2026-01-02").name for _ in range(3)]
    for name in names:
        client.wait_operation(name)
    first, token = client.operations(page_size=2)
    second, last = client.operations(page_size=2, page_token=token)
    assert [o.name for o in first + second] == names[::-1]
    assert last == ""
    err = _error(lambda: client.operations(filter="kind = teleport"))
    assert (err.code, err.reason) == ("INVALID_ARGUMENT", "INVALID_FILTER")
    assert [v.field for v in err.violations] == ["filter"]
    assert _error(lambda: client.operations(filter="state = running", page_token=token)).reason == (
        "INVALID_PAGE_TOKEN"
    )


def test_operations_belong_to_their_tenant(server: ServerProcess, client: AdpulseClient) -> None:
    name = client.backfill("2026-01-01", "2026-01-01").name
    with AdpulseClient(server.address, api_key=server.admin_key, tenant="someone-else") as other:
        assert _error(lambda: other.operation(name)).code == "NOT_FOUND"
        assert _error(lambda: other.cancel_operation(name)).code == "NOT_FOUND"
        assert name not in {o.name for o in other.operations(page_size=1000)[0]}


def test_bad_names_and_requests_are_invalid_argument_with_field_violations(client: AdpulseClient) -> None:
    err = _error(lambda: client.operation("operations/../../etc"))
    assert (err.code, [v.field for v in err.violations]) == ("INVALID_ARGUMENT", ["name"])
    assert _error(lambda: client.operation("operations/op-" + "0" * 32)).code == "NOT_FOUND"
    err = _error(lambda: client.backfill("2026-03-10", "2026-03-01"))
    assert (err.code, [v.field for v in err.violations]) == ("INVALID_ARGUMENT", ["end_date"])
    err = _error(lambda: client.backfill("", "2026-03-01", steps=["campaign_rollup", "levitate"]))
    assert [v.field for v in err.violations] == ["start_date", "steps[1]"]
    err = _error(lambda: client.export_metrics(apb.ExportMetricsRequest(format=9)))
    assert [v.field for v in err.violations] == ["format"]


def test_request_id_makes_a_start_idempotent(client: AdpulseClient) -> None:
    first = client.backfill("2026-02-01", "2026-02-03", request_id="nightly-2026-02-03")
    again = client.backfill("2026-02-01", "2026-02-03", request_id="nightly-2026-02-03")
    assert again.name == first.name
    err = _error(lambda: client.backfill("2026-02-01", "2026-02-04", request_id="nightly-2026-02-03"))
    assert (err.code, err.reason) == ("ALREADY_EXISTS", "REQUEST_ID_REUSED")


def test_cancel_of_a_finished_operation_changes_nothing(client: AdpulseClient) -> None:
    done = client.wait_operation(client.backfill("2026-01-01", "2026-01-01").name)
    client.cancel_operation(done.name)
    assert client.operation(done.name).state == "succeeded"
    err = _error(lambda: client.delete_operation("operations/op-" + "1" * 32))
    assert err.code == "NOT_FOUND"


def test_export_of_nothing_is_a_valid_file(client: AdpulseClient) -> None:
    request = apb.ExportMetricsRequest(dimensions=[apb.DIMENSION_PLATFORM], format=opb.EXPORT_FORMAT_PARQUET)
    done = client.wait_operation(client.export_metrics(request).name)
    assert done.state == "succeeded", done
    data = b"".join(client.download_export(done.name))
    assert done.response.rows == 0 and len(data) == done.response.size_bytes
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 0 and table.column_names[:2] == ["platform", "currency"]
    totals = client.wait_operation(
        client.export_metrics(apb.ExportMetricsRequest(format=opb.EXPORT_FORMAT_CSV)).name
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(client.download_export(totals.name)).decode())))
    assert [(r["impressions"], r["cost"], r["roas"]) for r in rows] == [("0", "0.000000", "")]


def test_export_files_are_private_to_their_tenant(
    server: ServerProcess, client: AdpulseClient, tenant: str
) -> None:
    done = client.wait_operation(
        client.export_metrics(apb.ExportMetricsRequest(format=opb.EXPORT_FORMAT_CSV)).name
    )
    assert done.state == "succeeded", done
    directory = server.data_dir / "exports" / tenant
    (file,) = directory.glob(f"{done.name.removeprefix('operations/')}*")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    # The data dir is no one else's to list, whatever the embedded Postgres needed to start.
    for above in (server.data_dir, server.data_dir.parent):
        assert stat.S_IMODE(above.stat().st_mode) & 0o044 == 0, above


def test_download_needs_a_finished_export(client: AdpulseClient) -> None:
    backfill = client.wait_operation(client.backfill("2026-01-01", "2026-01-01").name)
    assert _error(lambda: b"".join(client.download_export(backfill.name))).code == "NOT_FOUND"


def test_import_paths_stay_inside_the_import_directory(
    server: ServerProcess, client: AdpulseClient, tenant: str
) -> None:
    imports = server.data_dir / "imports" / tenant
    imports.mkdir(parents=True, exist_ok=True)
    (imports / "outside").unlink(missing_ok=True)
    (imports / "outside").symlink_to("/etc")
    (server.data_dir / "imports" / "someone-else").mkdir(exist_ok=True)
    (server.data_dir / "imports" / "someone-else" / "theirs.csv").write_text("x")
    cases = {
        "../postgres/PG_VERSION": ("INVALID_ARGUMENT", "INVALID_PATH"),
        "../someone-else/theirs.csv": ("INVALID_ARGUMENT", "INVALID_PATH"),
        "/etc/passwd": ("INVALID_ARGUMENT", "INVALID_PATH"),
        "outside/passwd": ("PERMISSION_DENIED", "PATH_OUTSIDE_IMPORTS"),
        "theirs.csv": ("NOT_FOUND", "FILE_NOT_FOUND"),  # another tenant's file is not even named
        "nothing-here.csv": ("NOT_FOUND", "FILE_NOT_FOUND"),
    }
    for path, expected in cases.items():
        err = _error(lambda path=path: client.import_file(ipb.ImportFileRequest(path=path)))
        assert (err.code, err.reason) == expected, path
        assert str(server.data_dir) not in err.message and "/etc" not in err.message.replace(path, "")
    assert client.operations(filter="kind = import_file")[0] == []


def test_upload_stores_the_bytes_for_the_tenant_only(
    server: ServerProcess, client: AdpulseClient, tenant: str, tmp_path: Path
) -> None:
    local = tmp_path / "day.csv.gz"
    local.write_bytes(os.urandom(3 << 20))
    uploaded = client.upload_file(local, piece_bytes=256 << 10)
    assert uploaded.path.startswith("uploads/") and uploaded.path.endswith("/day.csv.gz")
    assert uploaded.size_bytes == 3 << 20
    stored = server.data_dir / "imports" / tenant / uploaded.path
    assert stored.read_bytes() == local.read_bytes()
    # Private to the server's user, in directories only it may enter.
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for directory in (stored.parent, stored.parent.parent, server.data_dir / "imports" / tenant):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    with AdpulseClient(server.address, api_key=server.admin_key, tenant=f"{tenant}-other") as other:
        err = _error(lambda: other.import_file(ipb.ImportFileRequest(path=uploaded.path)))
        assert (err.code, err.reason) == ("NOT_FOUND", "FILE_NOT_FOUND")
    bad = tmp_path / "bad name.csv"
    bad.write_text("x")
    err = _error(lambda: client.upload_file(bad))
    assert [v.field for v in err.violations] == ["header.file_name"]


def test_grpcurl_describes_and_calls_operations(server: ServerProcess) -> None:
    grpcurl = str(Path(sys.executable).parent / "grpcurl")
    described = subprocess.run(
        [grpcurl, "-plaintext", *key(server), server.address, "describe", "google.longrunning.Operations"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "rpc WaitOperation" in described
    # Each method that starts an operation says, through reflection, what it resolves to.
    starting = {
        "adpulse.v1.IngestService": {"ImportFile": "ImportFileResponse"},
        "adpulse.v1.AnalyticsService": {
            "ExportMetrics": "ExportMetricsResponse",
            "Backfill": "BackfillResponse",
        },
    }
    for service, methods in starting.items():
        text = subprocess.run(
            [grpcurl, "-plaintext", *key(server), server.address, "describe", service],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for method, response in methods.items():
            declared = text.split(f"rpc {method} (", 1)[1].split("rpc ", 1)[0]
            assert "returns ( .google.longrunning.Operation )" in declared, method
            assert f'response_type:"adpulse.v1.{response}"' in declared, method
            assert 'metadata_type:"adpulse.v1.OperationMetadata"' in declared, method

    def call(method: str, body: str) -> dict[str, object]:
        out = subprocess.run(
            [
                grpcurl,
                "-plaintext",
                *key(server),
                "-H",
                "x-adpulse-tenant: grpcurl-ops",
                "-d",
                body,
                server.address,
                method,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        return json.loads(out)  # type: ignore[no-any-return]

    started = call(
        "adpulse.v1.AnalyticsService/Backfill", '{"start_date": "2026-01-01", "end_date": "2026-01-02"}'
    )
    waited = call("google.longrunning.Operations/WaitOperation", json.dumps({"name": started["name"]}))
    assert waited["done"] is True
    assert waited["metadata"]["@type"] == "type.googleapis.com/adpulse.v1.OperationMetadata"  # type: ignore[index]
    assert waited["response"]["@type"] == "type.googleapis.com/adpulse.v1.BackfillResponse"  # type: ignore[index]
    listed = call(
        "google.longrunning.Operations/ListOperations", '{"filter": "kind = backfill AND done = true"}'
    )
    assert [o["name"] for o in listed["operations"]] == [started["name"]]  # type: ignore[attr-defined]
