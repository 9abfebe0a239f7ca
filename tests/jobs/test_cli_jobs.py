"""`adpulse import`, `export` and `ops` against the real server, and Ctrl-C during an import."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import pty
import signal
import subprocess
import threading
from pathlib import Path

import pyarrow.parquet as pq

from adpulse.client import AdpulseClient
from tests.e2e.test_cli import ADPULSE, adpulse
from tests.jobs.support import CHUNK, FAST_UPKEEP, TENANT, wait_for
from tests.support.facts import Fact, fingerprint, random_facts, sent_rows, to_csv
from tests.support.server import ServerProcess, running_server
from tests.support.stored import stored_rows


def test_import_export_and_ops(
    server: ServerProcess, client: AdpulseClient, tenant: str, tmp_path: Path
) -> None:
    facts = random_facts(seed=21, n_campaigns=5, days=7)
    local = tmp_path / "facts.csv.gz"
    local.write_bytes(gzip.compress(to_csv(f.csv_values() for f in facts).encode()))
    out = adpulse(server, tenant, "import", str(local), "--json")
    assert out.returncode == 0, out.stderr
    imported = json.loads(out.stdout)
    assert (imported["accepted"], imported["rejected"], imported["errors"]) == (len(facts), 0, [])
    assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(facts))

    out = adpulse(server, tenant, "export", "--format", "csv", "--by", "platform", "-o", "-")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["platform"] for r in rows} == {f.platform for f in facts}
    assert sum(int(r["impressions"]) for r in rows) == sum(f.impressions for f in facts)

    parquet = tmp_path / "by-campaign.parquet"
    out = adpulse(server, tenant, "export", "--format", "parquet", "--by", "campaign", "-o", str(parquet))
    assert out.returncode == 0, out.stderr
    table = pq.read_table(parquet)
    assert out.stdout.startswith(f"wrote {table.num_rows:,} rows")
    assert sum(table.column("clicks").to_pylist()) == sum(f.clicks for f in facts)

    out = adpulse(server, tenant, "ops", "list", "--filter", "kind = export_metrics", "--json")
    assert out.returncode == 0, out.stderr
    exports = json.loads(out.stdout)["operations"]
    assert [o["state"] for o in exports] == ["succeeded", "succeeded"]
    for action in ("get", "wait"):
        out = adpulse(server, tenant, "ops", action, imported["operation"], "--json")
        assert out.returncode == 0, out.stderr
        shown = json.loads(out.stdout)
        assert (shown["kind"], shown["state"], shown["done"]) == ("import_file", "succeeded", True)
        assert shown["response"]["rows_accepted"] == len(facts)


def _big_file(tmp_path: Path) -> tuple[Path, list[Fact]]:
    facts = random_facts(seed=22, n_campaigns=40, days=40)
    path = tmp_path / "big.csv"
    path.write_text(to_csv(f.csv_values() for f in facts))
    return path, facts


def test_ctrl_c_during_an_import_offers_to_cancel_it(tmp_path: Path) -> None:
    path, facts = _big_file(tmp_path)
    env = {**FAST_UPKEEP, "ADPULSE_FAULTS": "fact_insert_delay_ms@300"}
    with running_server(tmp_path / "data", env) as server:
        # A terminal, so the command draws its progress bar and asks before cancelling.
        main, terminal = pty.openpty()
        process = subprocess.Popen(
            [
                ADPULSE,
                "--target",
                server.address,
                "--api-key",
                server.admin_key,
                "--tenant",
                TENANT,
                "import",
                str(path),
                "--chunk-bytes",
                str(CHUNK),
            ],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
        )
        os.close(terminal)
        shown: list[bytes] = []

        def read() -> None:
            while True:
                try:
                    data = os.read(main, 4096)
                except OSError:
                    return
                if not data:
                    return
                shown.append(data)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            wait_for(lambda: b"imported chunk" in b"".join(shown), "the progress bar")
            assert b"%" in b"".join(shown) and b"rows" in b"".join(shown)
            process.send_signal(signal.SIGINT)
            wait_for(lambda: b"? [y/N]" in b"".join(shown), "the question")
            os.write(main, b"y\n")
            assert process.wait(60) == 1
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            reader.join(10)
            os.close(main)
        text = b"".join(shown).decode(errors="replace")
        assert "cancelled: CANCELLED" in text, text
        with AdpulseClient(server.address, api_key=server.admin_key, tenant=TENANT) as client:
            (operation,), _ = client.operations(filter="kind = import_file")
            assert operation.state == "cancelled"
            assert 0 < len(stored_rows(client)) < len(facts)
