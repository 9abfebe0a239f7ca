"""ExportTenantData and DeleteTenantData on the real server, with two tenants: the archive holds
everything of one tenant and nothing of the other; the deletion counts zero of the deleted
tenant in every store, leaves the other exactly as it was, and is in the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import grpc
import pyarrow.parquet as pq
import pytest
from google.protobuf import field_mask_pb2

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import tenant_service_pb2 as tpb
from adpulse.v1 import tenant_service_pb2_grpc as tpb_grpc
from tests.lifecycle.support import Stocked, fact_total, facts_on, stock
from tests.support.server import ServerProcess

DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=d) for d in range(5)]


def _tenant_with_admin(server: ServerProcess, prefix: str) -> tuple[str, str, str]:
    """A new tenant, its admin key and its read key."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    with AdpulseClient(server.address, api_key=server.admin_key) as operator:
        operator.create_tenant(name)
        admin = operator.create_api_key(["admin", "ingest", "read"], tenant=name, name="lifecycle").key
        read = operator.create_api_key(["read"], tenant=name, name="reader").key
    return name, admin, read


def _archive(client: AdpulseClient, name: str) -> zipfile.ZipFile:
    done = client.operation(name)
    data = b"".join(client.download_tenant_data(name))
    assert hashlib.sha256(data).hexdigest() == done.response.sha256
    assert len(data) == done.response.size_bytes
    assert b"".join(client.download_tenant_data(name, offset=100)) == data[100:]  # resumable
    return zipfile.ZipFile(io.BytesIO(data))


def _json_lines(archive: zipfile.ZipFile, table: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in archive.read(f"postgres/{table}.jsonl").splitlines()]


@pytest.fixture
def two(server: ServerProcess, tmp_path: Path) -> dict[str, tuple[str, str, str, Stocked]]:
    """Two tenants with something in every store, apart by their campaigns."""
    out = {}
    for prefix, campaign in (("alpha", "cmp-a"), ("beta", "cmp-b")):
        name, admin, read = _tenant_with_admin(server, prefix)
        with AdpulseClient(server.address, api_key=admin) as client:
            out[prefix] = (
                name,
                admin,
                read,
                stock(client, tmp_path, facts_on(DAYS, campaign), retention_days=400),
            )
    return out


def test_the_archive_holds_everything_of_the_tenant_and_nothing_of_another(
    server: ServerProcess, two: dict[str, tuple[str, str, str, Stocked]]
) -> None:
    name, admin, _, stocked = two["alpha"]
    other = two["beta"][0]
    with AdpulseClient(server.address, api_key=admin) as client:
        done = client.wait_operation(client.export_tenant_data().name)
        assert done.error is None, done.error
        archive = _archive(client, done.name)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["tenant"] == name
    entries = {e.path: e.rows for e in done.response.entries}
    assert {e["path"]: e["rows"] for e in manifest["entries"]} == entries
    assert set(archive.namelist()) == {*entries, "manifest.json"}

    facts = pq.read_table(io.BytesIO(archive.read("clickhouse/ad_metrics.parquet")))
    assert facts.num_rows == entries["clickhouse/ad_metrics.parquet"] == len(stocked.facts)
    assert set(facts["tenant"].to_pylist()) == {name}
    # Exact money: the integer millionths as stored.
    assert sum(facts["cost_micros"].to_pylist()) == sum(int(f.cost * 1_000_000) for f in stocked.facts)
    rates = pq.read_table(io.BytesIO(archive.read("clickhouse/fx_rates.parquet")))
    assert rates.num_rows == 1
    # A table without rows of the tenant (no backfill made rollups) still has its columns.
    rollups = pq.read_table(io.BytesIO(archive.read("clickhouse/campaign_daily.parquet")))
    assert (rollups.num_rows, "campaign_id" in rollups.column_names) == (0, True)

    for table in ("ingestion_runs", "ingest_batches", "budgets", "tenant_settings", "alert_subscriptions",
                  "operations", "audit_events", "api_keys"):  # fmt: skip
        rows = _json_lines(archive, table)
        assert rows, table
        assert {r["tenant"] for r in rows} == {name}, table
    assert _json_lines(archive, "tenant_settings")[0]["retention_days"] == 400
    assert _json_lines(archive, "budgets")[0]["amount_micros"] == 5_000_000_000
    assert all("sealed_secret" not in r for r in _json_lines(archive, "alert_subscriptions"))
    assert all("secret_sha256" not in r for r in _json_lines(archive, "api_keys"))
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert other.encode() not in everything
    assert admin.split("_")[2].encode() not in everything  # no key secret


def test_only_the_tenants_admin_exports_and_downloads(
    server: ServerProcess, two: dict[str, tuple[str, str, str, Stocked]]
) -> None:
    _, admin, read, _ = two["alpha"]
    _, other_admin, _, _ = two["beta"]
    with AdpulseClient(server.address, api_key=admin) as client:
        name = client.wait_operation(client.export_tenant_data().name).name
    with AdpulseClient(server.address, api_key=read) as reader:
        with pytest.raises(AdpulseError) as denied:
            reader.export_tenant_data()
        assert (denied.value.code, denied.value.metadata) == (
            "PERMISSION_DENIED",
            {"required_scope": "admin"},
        )
        # Not through the metrics export's download either (it needs only `read`).
        with pytest.raises(AdpulseError) as hidden:
            b"".join(reader.download_export(name))
        assert hidden.value.code == "NOT_FOUND"
        # Reading its state is reading; stopping or forgetting it is not.
        assert reader.operation(name).response.sha256
        for stop in (reader.cancel_operation, reader.delete_operation):
            with pytest.raises(AdpulseError) as refused:
                stop(name)
            assert (refused.value.code, refused.value.metadata) == (
                "PERMISSION_DENIED",
                {"required_scope": "admin"},
            )
    with AdpulseClient(server.address, api_key=other_admin) as stranger, pytest.raises(AdpulseError) as gone:
        b"".join(stranger.download_tenant_data(name))
    assert gone.value.code == "NOT_FOUND"
    with AdpulseClient(server.address, api_key=admin) as client:
        client.delete_operation(name)  # and with it the archive
        with pytest.raises(AdpulseError) as forgotten:
            b"".join(client.download_tenant_data(name))
        assert forgotten.value.code == "NOT_FOUND"
    assert not list(server.data_dir.glob(f"exports/*/{name.removeprefix('operations/')}*"))


def test_a_deletion_needs_the_name_typed_back(
    server: ServerProcess, two: dict[str, tuple[str, str, str, Stocked]]
) -> None:
    name, admin, _, stocked = two["alpha"]
    with AdpulseClient(server.address, api_key=admin) as client:
        for wrong in ("", name.upper(), two["beta"][0]):
            with pytest.raises(AdpulseError) as refused:
                client.delete_tenant_data(wrong)
            assert refused.value.code == "INVALID_ARGUMENT"
            assert [v.field for v in refused.value.violations] == ["confirm"]
        assert fact_total(client)[0] == sum(f.impressions for f in stocked.facts)


def test_a_deletion_empties_every_store_of_the_tenant_and_only_it(
    server: ServerProcess, two: dict[str, tuple[str, str, str, Stocked]], tmp_path: Path
) -> None:
    name, admin, _, _ = two["alpha"]
    other, other_admin, _, other_stocked = two["beta"]
    with AdpulseClient(server.address, api_key=other_admin) as beta:
        before = (fact_total(beta), beta.tenant_settings(), len(beta.alert_subscriptions()))
        beta_export = b"".join(beta.download_export(other_stocked.export_name))

    # Through the CLI, as a person would.
    answer = subprocess.run(
        [str(Path(sys.executable).with_name("adpulse")), "--target", server.address, "--api-key", admin,
         "tenant", "delete", "--confirm", name, "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)
    assert result["tenant"] == name
    counts = {c["store"]: (int(c.get("deleted", 0)), int(c.get("remaining", 0))) for c in result["counts"]}
    assert counts["clickhouse/ad_metrics"] == (len(DAYS), 0)
    assert counts["postgres/budgets"] == (1, 0)
    assert counts["postgres/alert_subscriptions"] == (1, 0)
    assert counts["files/imports"][0] >= 1  # the upload (and the ingested file's copy, if any)
    assert counts["files/exports"][0] >= 1  # the metrics export
    assert "postgres/audit_events" not in counts and "postgres/api_keys" not in counts
    assert all(remaining == 0 for _, remaining in counts.values()), counts

    with AdpulseClient(server.address, api_key=admin) as alpha:
        assert fact_total(alpha)[0] == 0
        assert alpha.tenant_settings().retention_days == 0  # settings are back to the defaults
        assert alpha.alert_subscriptions() == []
        assert [o.kind for o in alpha.operations()[0]] == ["delete_tenant_data"]
        events = alpha.audit_events(tenant=name)
        job = [e for e in events if e.action == "job/delete_tenant_data"]
        assert [(e.outcome, e.key_id) for e in job] == [("OK", admin.split("_")[1])]
        assert any(
            e.action == "adpulse.v1.TenantService/DeleteTenantData" and e.outcome == "OK" for e in events
        )

    with AdpulseClient(server.address, api_key=other_admin) as beta:
        assert (fact_total(beta), beta.tenant_settings(), len(beta.alert_subscriptions())) == before
        assert b"".join(beta.download_export(other_stocked.export_name)) == beta_export
        assert beta.operation(other_stocked.export_name).error is None
        assert other != name


def test_retention_is_a_setting_changed_alone_and_checked(
    server: ServerProcess, client: AdpulseClient, tenant: str
) -> None:
    client.update_tenant_settings(reporting_currency="EUR")
    assert client.update_tenant_settings(retention_days=90).reporting_currency == "EUR"  # kept
    assert client.tenant_settings().retention_days == 90
    for bad in (-1, 36601):
        with pytest.raises(AdpulseError) as refused:
            client.update_tenant_settings(reporting_currency="USD", retention_days=bad)
        assert [v.field for v in refused.value.violations] == ["settings.retention_days"]
    assert (client.tenant_settings().reporting_currency, client.tenant_settings().retention_days) == (
        "EUR",
        90,
    )
    request = tpb.UpdateTenantSettingsRequest(update_mask=field_mask_pb2.FieldMask(paths=["currency"]))
    metadata = (*server.key_metadata, ("x-adpulse-tenant", tenant))
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as unknown:
        tpb_grpc.TenantServiceStub(channel).UpdateTenantSettings(request, metadata=metadata)
    error = AdpulseError.from_rpc_error(unknown.value)
    assert (error.code, [v.field for v in error.violations]) == ("INVALID_ARGUMENT", ["update_mask.paths[0]"])
