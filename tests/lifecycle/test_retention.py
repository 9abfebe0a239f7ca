"""Retention, enforced by the daily scan: facts older than the tenant's `retention_days` go (and
only its), uploads and exports older than `ADPULSE_FILE_EXPIRY_DAYS` go (files an operator put
in the import directory stay)."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from tests.jobs.support import FAST_UPKEEP, wait_for
from tests.lifecycle.support import facts_on, stock
from tests.support.server import running_server

OLD = time.time() - 8 * 86400  # past the default expiry of 7 days


def _age(path: Path) -> None:
    os.utime(path, (OLD, OLD))


def test_the_daily_scan_deletes_old_facts_and_expired_files_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=n) for n in (100, 40, 5)]
    with running_server(data, {**FAST_UPKEEP, "ADPULSE_DAILY_SCAN_AT": "off"}) as server:
        with AdpulseClient(server.address, api_key=server.admin_key, tenant="kept-30") as short:
            short_stock = stock(short, tmp_path, facts_on(days, "cmp-short"), retention_days=30)
            fresh_export = short.wait_operation(short.export_metrics(apb.ExportMetricsRequest()).name).name
        with AdpulseClient(server.address, api_key=server.admin_key, tenant="kept-all") as forever:
            stock(forever, tmp_path, facts_on(days, "cmp-all"))
    imports, exports = data / "imports", data / "exports"
    for tenant in ("kept-30", "kept-all"):
        (upload,) = (imports / tenant / "uploads").glob("*/*")
        _age(upload)
        operator_file = imports / tenant / "operator.csv"
        operator_file.write_text("date\n")
        _age(operator_file)
    old_export = exports / "kept-30" / f"{short_stock.export_name.removeprefix('operations/')}.parquet"
    _age(old_export)

    with running_server(data, {**FAST_UPKEEP, "ADPULSE_DAILY_SCAN_AT": "00:00"}) as server:
        for tenant, kept in (("kept-30", {days[2]}), ("kept-all", set(days))):
            with AdpulseClient(server.address, api_key=server.admin_key, tenant=tenant) as client:
                wait_for(lambda c=client: bool(c.operations(filter="kind = daily_scan")[0]), "the scan")
                (scan,) = client.operations(filter="kind = daily_scan")[0]
                done = client.wait_operation(scan.name, 120)
                assert done.error is None, done.error
                steps = {s.step: s for s in done.response.steps}
                dates = {
                    dt.date.fromisoformat(r.dimensions["date"])
                    for r in client.query_metrics(by=["date"]).rows
                }
                assert dates == kept, tenant
                assert steps["fact_retention"].rows == (2 if tenant == "kept-30" else 0)
                assert steps["file_expiry"].rows == (2 if tenant == "kept-30" else 1)  # uploads + exports
                assert list((imports / tenant / "uploads").glob("*/*")) == []
                assert (imports / tenant / "operator.csv").exists()
        with AdpulseClient(server.address, api_key=server.admin_key, tenant="kept-30") as short:
            with pytest.raises(AdpulseError) as gone:
                b"".join(short.download_export(short_stock.export_name))
            assert (gone.value.code, gone.value.reason) == ("NOT_FOUND", "EXPORT_FILE_GONE")
            assert b"".join(short.download_export(fresh_export))  # a fresh export stays
