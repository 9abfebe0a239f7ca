"""ImportFile end to end, and the jobs that read what it stored: exactly the file's rows after
worker deaths, retries and cancels; poison files fail once; exports and backfills to the cent.

A worker that writes facts must live in the process that owns chDB, so "killing the worker"
is SIGKILL of the server hosting it, then a restart on the same data dir: in the embedded
shape (Postgres as broker, the reconciler re-sends the operation) and with the server
consuming from RabbitMQ (the broker redelivers the unacknowledged message).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import operation_pb2 as opb
from tests.jobs.support import FAST_UPKEEP, TENANT, chunks, import_file, wait_for
from tests.support import rabbitmq
from tests.support.facts import Fact, expected_groups, fingerprint, random_facts, sent_rows, to_csv
from tests.support.server import ServerProcess, running_server, start_server, stop_embedded_postgres
from tests.support.stored import stored_rows


@pytest.fixture(params=["embedded", "rabbitmq"])
def shape(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment of a server of each shape; both run the same job code."""
    if request.param == "embedded":
        yield dict(FAST_UPKEEP)
    else:
        broker: rabbitmq.Broker = request.getfixturevalue("rabbitmq_broker")
        yield {**FAST_UPKEEP, "ADPULSE_BROKER_URL": broker.vhost_url(), "ADPULSE_EMBEDDED_WORKER": "true"}


def _kill(server: ServerProcess) -> None:
    server.kill()
    stop_embedded_postgres(server.data_dir)


def test_sigkill_at_30_60_90_percent_stores_exactly_the_file(
    dataset: tuple[Path, list[Fact]], shape: Mapping[str, str]
) -> None:
    data, facts = dataset
    n = chunks((data / "imports" / TENANT / "big.csv").read_bytes())
    assert n >= 10
    # The Nth insert of each process writes its chunk and stalls before the ledger commits it:
    # the worst moment to die. A restarted process first redoes the chunk it died in.
    points = [math.ceil(n * p) for p in (0.3, 0.6, 0.9)]
    stalls = [points[0], points[1] - points[0] + 1, points[2] - points[1] + 1]
    name = ""
    for i, nth in enumerate(stalls):
        server = start_server(data, {**shape, "ADPULSE_FAULTS": f"fact_insert_stalls_after@{nth}"})
        try:
            with AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client:
                name = name or import_file(client, "big.csv").name
                stalled = f"insert {nth} written, stalling"
                wait_for(lambda s=server, line=stalled: line in s.log, f"stall {i + 1}")  # type: ignore[misc]
                assert client.operation(name).state == "running"
        finally:
            _kill(server)
    server = start_server(data, dict(shape))
    try:
        with AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client:
            done = client.wait_operation(name, timeout=300)
            assert done.state == "succeeded", done
            assert done.metadata.recoveries == 3
            r = done.response
            assert (r.rows_accepted, r.rows_rejected, r.rows_duplicate, r.chunks) == (len(facts), 0, 0, n)
            assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))
    finally:
        server.terminate()
        stop_embedded_postgres(data)


def test_cancel_stops_within_a_chunk(dataset: tuple[Path, list[Fact]]) -> None:
    data, facts = dataset
    env = {**FAST_UPKEEP, "ADPULSE_FAULTS": "fact_insert_delay_ms@300"}
    with (
        running_server(data, env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        name = import_file(client, "big.csv").name
        wait_for(lambda: client.operation(name).metadata.rows_done > 0, "the first chunk")
        started = client.operation(name).metadata
        before = started.rows_done
        assert 0 < started.progress_percent < 50  # the bytes read follow the rows imported
        client.cancel_operation(name)
        done = client.wait_operation(name, timeout=60)
        assert done.state == "cancelled" and done.error is not None
        assert (done.error.code, done.error.reason) == ("CANCELLED", "CANCELLED")
        stored = len(stored_rows(client))
        per_chunk = len(facts) / chunks((data / "imports" / TENANT / "big.csv").read_bytes())
        assert before <= stored == done.metadata.rows_done <= before + 2 * per_chunk
        assert stored < len(facts)


def _small_import(tmp_path: Path, seed: int, n_campaigns: int, days: int) -> tuple[Path, list[Fact]]:
    """A server data dir whose import directory holds small.csv."""
    facts = random_facts(seed=seed, n_campaigns=n_campaigns, days=days)
    data = tmp_path / "data"
    (data / "imports" / TENANT).mkdir(parents=True)
    (data / "imports" / TENANT / "small.csv").write_text(to_csv(f.csv_values() for f in facts))
    return data, facts


def test_transient_storage_failure_is_retried_and_succeeds(tmp_path: Path) -> None:
    data, facts = _small_import(tmp_path, seed=9, n_campaigns=8, days=10)
    env = {**FAST_UPKEEP, "ADPULSE_FAULTS": "fact_insert_fails_before@1"}
    with (
        running_server(data, env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        done = client.wait_operation(import_file(client, "small.csv").name, timeout=120)
        assert done.state == "succeeded", done
        assert done.response.rows_accepted == len(facts)
        assert "transient storage failure, will retry" in server.log
        assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))


def test_poison_files_fail_once_with_a_clear_error(
    server: ServerProcess, client: AdpulseClient, tenant: str
) -> None:
    imports = server.data_dir / "imports" / tenant
    imports.mkdir(parents=True, exist_ok=True)
    poison = {
        "garbage.csv.gz": b"\x1f\x8b\x08\x00this is no gzip stream",
        "not-a-table.csv": bytes(range(256)) * 64,
    }
    for name, content in poison.items():
        (imports / name).write_bytes(content)
    for name in poison:
        done = client.wait_operation(import_file(client, name).name, timeout=60)
        assert done.state == "failed" and done.error is not None, done
        assert done.error.code == "INVALID_ARGUMENT", done.error
        assert name in done.error.message and str(server.data_dir) not in done.error.message
        assert done.metadata.recoveries == 0
        # Failed for good: the failure was recorded once and nothing runs it again.
        assert server.log.count(f"operation {done.name.removeprefix('operations/')} failed") == 1


def test_upload_then_import_gzip_and_ndjson_with_file_lines(client: AdpulseClient, tmp_path: Path) -> None:
    facts = random_facts(seed=3, n_campaigns=4, days=5)
    bad = facts[0].csv_values()
    bad[10] = "twelve"  # cost
    rows = [f.csv_values() for f in facts[1:]] + [bad]
    gz = tmp_path / "day.csv.gz"
    gz.write_bytes(gzip.compress(to_csv(rows).encode()))
    uploaded = client.upload_file(gz)
    done = client.wait_operation(
        client.import_file(ipb.ImportFileRequest(path=uploaded.path)).name, timeout=60
    )
    assert done.state == "succeeded", done
    r = done.response
    assert (r.rows_accepted, r.rows_rejected) == (len(facts) - 1, 1)
    assert [(e.line, e.field) for e in r.errors] == [(len(facts) + 1, "cost")]
    ndjson = tmp_path / "more.ndjson"
    keys = next(csv.reader([to_csv([])]))
    ndjson.write_text(
        "".join(json.dumps(dict(zip(keys, f.csv_values(), strict=True))) + "\n" for f in facts[:1])
    )
    again = client.wait_operation(
        client.import_file(ipb.ImportFileRequest(path=client.upload_file(ndjson).path)).name
    )
    assert again.response.rows_accepted == 1
    assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))


def _money(value: str) -> Decimal | None:
    return Decimal(value) if value else None


def _exported(data: bytes, fmt: int) -> list[dict[str, str]]:
    """An export's rows as CSV would give them, whatever its format."""
    if fmt == opb.EXPORT_FORMAT_CSV:
        return list(csv.DictReader(io.StringIO(data.decode())))
    return [
        {k: "" if v is None else str(v) for k, v in r.items()}
        for r in pq.read_table(io.BytesIO(data)).to_pylist()
    ]


def _check_export(
    rows: list[dict[str, str]], expected: Mapping[tuple[str, ...], Any], key: tuple[str, ...]
) -> None:
    """Every group once, in key order, with the reference's sums to the cent."""
    keys = [tuple(r[k] for k in key) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == len(expected)
    for r, k in zip(rows, keys, strict=True):
        want = expected[k]
        assert (int(r["impressions"]), int(r["clicks"])) == (want.impressions, want.clicks)
        assert (_money(r["cost"]), _money(r["revenue"])) == (want.cost, want.revenue)
        assert Decimal(r["conversions"]) == want.conversions


def test_export_and_backfill_agree_with_the_reference_to_the_cent(
    client: AdpulseClient, tmp_path: Path
) -> None:
    facts = random_facts(seed=11, n_campaigns=12, days=20)
    local = tmp_path / "facts.csv"
    local.write_text(to_csv(f.csv_values() for f in facts))
    imported = client.wait_operation(
        client.import_file(ipb.ImportFileRequest(path=client.upload_file(local).path)).name
    )
    assert imported.state == "succeeded", imported
    expected = expected_groups(facts, lambda f: (f.platform, f.account_id, f.campaign_id))
    for fmt in (opb.EXPORT_FORMAT_CSV, opb.EXPORT_FORMAT_PARQUET):
        request = apb.ExportMetricsRequest(dimensions=[apb.DIMENSION_CAMPAIGN], format=fmt)
        done = client.wait_operation(client.export_metrics(request).name)
        assert done.state == "succeeded", done
        rows = _exported(b"".join(client.download_export(done.name)), fmt)
        assert done.response.rows == len(rows)
        _check_export(rows, expected, ("platform", "account_id", "campaign_id"))
    first, last = min(f.date for f in facts), max(f.date for f in facts)
    backfill = client.wait_operation(client.backfill(first.isoformat(), last.isoformat()).name)
    assert backfill.state == "succeeded", backfill
    step, insights = backfill.response.steps
    assert insights.step == "insights"
    days = (last - first).days + 1
    campaign_days = {(f.date, f.platform, f.account_id, f.campaign_id, f.currency) for f in facts}
    assert (step.step, step.days, step.rows) == ("campaign_rollup", days, len(campaign_days))
    assert step.summary == "sums equal the facts'"


def test_an_export_in_parts_resumes_after_each_part_and_loses_no_group(tmp_path: Path) -> None:
    """Each slice writes one part and checkpoints its last group; the file is every group once."""
    facts = random_facts(seed=12, n_campaigns=8, days=15)
    local = tmp_path / "facts.csv"
    local.write_text(to_csv(f.csv_values() for f in facts))
    expected = expected_groups(facts, lambda f: (f.date.isoformat(), f.platform, f.account_id, f.campaign_id))
    part_rows = 25
    with (
        running_server(tmp_path / "data", {"ADPULSE_EXPORT_PART_ROWS": str(part_rows)}) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        assert client.ingest_files([local]).rejected == 0
        for fmt in (opb.EXPORT_FORMAT_CSV, opb.EXPORT_FORMAT_PARQUET):
            request = apb.ExportMetricsRequest(
                dimensions=[apb.DIMENSION_DATE, apb.DIMENSION_CAMPAIGN], format=fmt
            )
            done = client.wait_operation(client.export_metrics(request).name, timeout=300)
            assert done.state == "succeeded", done
            rows = _exported(b"".join(client.download_export(done.name)), fmt)
            _check_export(rows, expected, ("date", "platform", "account_id", "campaign_id"))
            op_id = done.name.removeprefix("operations/")
            slices = server.log.count(f"operation {op_id} (export_metrics): running")
            assert slices >= len(expected) // part_rows > 3


def test_daily_scan_is_scheduled_per_tenant_and_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**FAST_UPKEEP, "ADPULSE_DAILY_SCAN_AT": "00:00"}
    server = start_server(data, env)
    try:
        with AdpulseClient(server.address, api_key=server.admin_key, tenant="scanned") as client:
            client.update_tenant_settings(reporting_currency="")  # the tenant becomes known
            wait_for(lambda: bool(client.operations(filter="kind = daily_scan")[0]), "the daily scan")
            (scan,) = client.operations(filter="kind = daily_scan")[0]
            done = client.wait_operation(scan.name)
            assert done.state == "succeeded", done
            today = dt.datetime.now(dt.UTC).date()
            assert done.response.scan_date in {today.isoformat(), (today - dt.timedelta(days=1)).isoformat()}
            assert [s.step for s in done.response.steps] == [
                "campaign_rollup",
                "insights",
                "freshness",
                "fact_retention",
                "file_expiry",
            ]
            time.sleep(3)  # several more scheduler ticks: still one scan for the day
            assert len(client.operations(filter="kind = daily_scan")[0]) == 1
    finally:
        server.terminate()
        stop_embedded_postgres(data)


def test_a_job_that_kills_its_worker_every_time_fails_after_the_bound(
    dataset: tuple[Path, list[Fact]],
) -> None:
    """A poison message that takes its worker down with it is not re-sent forever."""
    data, _ = dataset
    env = {
        **FAST_UPKEEP,
        "ADPULSE_OPERATION_MAX_RECOVERIES": "1",
        "ADPULSE_FAULTS": "fact_insert_stalls_after@1",
    }
    name = ""
    for attempt in (1, 2):
        server = start_server(data, env)
        try:
            with AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client:
                name = name or import_file(client, "big.csv").name
                wait_for(lambda s=server: "insert 1 written, stalling" in s.log, f"attempt {attempt}")  # type: ignore[misc]
        finally:
            _kill(server)
    with (
        running_server(data, env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        done = client.wait_operation(name, timeout=120)
        assert done.state == "failed" and done.error is not None, done
        assert (done.error.code, done.error.reason) == ("INTERNAL", "WORKER_LOST")
        assert done.metadata.recoveries == 2
        assert "insert 1 written, stalling" not in server.log  # not run a third time


def test_a_store_failure_past_the_retries_fails_the_job(tmp_path: Path) -> None:
    data, _ = _small_import(tmp_path, seed=10, n_campaigns=2, days=3)
    # No retries allowed: the one failure a retry would have overcome is the last straw.
    env = {**FAST_UPKEEP, "ADPULSE_JOB_MAX_RETRIES": "0", "ADPULSE_FAULTS": "fact_insert_fails_before@1"}
    with (
        running_server(data, env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        done = client.wait_operation(import_file(client, "small.csv").name, timeout=120)
        assert done.state == "failed" and done.error is not None, done
        assert (done.error.code, done.error.reason) == ("UNAVAILABLE", "STORAGE_UNAVAILABLE")
        assert "start the job again later" in done.error.message
        assert done.metadata.rows_done == 0 and "will retry" in server.log
