"""SIGTERM on a server whose embedded worker runs a job: the job stops at its next chunk and is
queued again, not lost and not counted as a dead worker; the restarted server finishes it with
exactly the file's rows."""

from __future__ import annotations

from pathlib import Path

from adpulse.client import AdpulseClient
from tests.jobs.support import FAST_UPKEEP, TENANT, import_file, wait_for
from tests.observe.support import scrape, value
from tests.support.facts import Fact, fingerprint, sent_rows
from tests.support.server import running_server
from tests.support.stored import stored_rows


def test_sigterm_requeues_the_running_job_and_a_restart_finishes_it(dataset: tuple[Path, list[Fact]]) -> None:
    data, facts = dataset
    slow = {**FAST_UPKEEP, "ADPULSE_FAULTS": "fact_insert_delay_ms@300"}
    with running_server(data, slow) as server:
        with AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client:
            name = import_file(client, "big.csv").name
            wait_for(lambda: client.operation(name).metadata.rows_done > 0, "the first chunk")
        assert server.terminate(timeout=30) == 0
        assert "stopped" in server.log
    with (
        running_server(data, FAST_UPKEEP) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client,
    ):
        stopped = client.operation(name)
        assert 0 < stopped.metadata.rows_done < len(facts)  # it stopped halfway, as asked
        done = client.wait_operation(name, timeout=120)
        assert done.state == "succeeded", done
        assert done.metadata.recoveries == 0  # a graceful stop is no worker death
        assert done.response.rows_accepted == len(facts)
        assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))
        # The embedded worker counts its tasks (here the import) on the server's endpoint.
        samples = scrape(server.metrics_url)
        assert value(samples, "adpulse_worker_tasks_total", task="adpulse.run_operation", outcome="done") >= 1
