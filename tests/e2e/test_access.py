"""Tenants and API keys against the real server: what each key may do, for which tenant, and
that no key or secret leaks into logs, errors or the data dir."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from adpulse.client import AdpulseClient, AdpulseError, demo
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import operation_pb2 as opb
from tests.e2e.test_cli import adpulse
from tests.support.facts import random_facts, to_csv
from tests.support.server import ServerProcess

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def _error(call: Callable[[], object]) -> AdpulseError:
    with pytest.raises(AdpulseError) as caught:
        call()
    return caught.value


def _key_id(key: str) -> str:
    return key.split("_")[1]


@pytest.fixture
def operator(server: ServerProcess) -> Iterator[AdpulseClient]:
    with AdpulseClient(server.address, api_key=server.admin_key) as client:
        yield client


@pytest.fixture
def registered(operator: AdpulseClient, tenant: str) -> str:
    operator.create_tenant(tenant)
    return tenant


def test_the_first_start_wrote_an_operator_key_only_its_owner_reads(server: ServerProcess) -> None:
    key_file = server.data_dir / "admin.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("adp_")
    assert str(key_file.resolve()) in server.log
    assert server.admin_key not in server.log
    with AdpulseClient(server.address, api_key=server.admin_key) as client:
        keys = {k.key_id: k for k in client.api_keys()}
    first = keys[_key_id(server.admin_key)]
    assert (first.tenant, list(first.scopes)) == ("", [4])  # SCOPE_OPERATOR, above the tenants


def test_the_cli_makes_lists_and_revokes_keys(server: ServerProcess, tenant: str, tmp_path: Path) -> None:
    out = adpulse(server, "default", "tenants", "create", tenant)
    assert out.returncode == 0, out.stderr
    out = adpulse(
        server,
        "default",
        *("keys", "create", "--tenant", tenant, "--scope", "read", "--scope", "ingest"),
        *("--name", "nightly", "--expires", "30d", "--json"),
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert set(created) == {"key", "key_id", "tenant", "scopes"}
    assert (created["tenant"], created["scopes"]) == (tenant, ["ingest", "read"])
    assert created["key"].startswith(f"adp_{created['key_id']}_")

    csv = tmp_path / "facts.csv"
    csv.write_text(to_csv(f.csv_values() for f in random_facts(seed=3, n_campaigns=2, days=2)))
    with AdpulseClient(server.address, api_key=created["key"]) as own:  # no tenant header needed
        assert own.ingest_files([csv]).rejected == 0
    with AdpulseClient(server.address, api_key=server.admin_key, tenant=tenant) as operator:
        assert operator.query_metrics().totals.impressions > 0  # it went to the key's tenant

    listed = json.loads(adpulse(server, "default", "keys", "list", "--tenant", tenant, "--json").stdout)
    (shown,) = listed["keys"]
    assert (shown["key_id"], shown["name"], shown["state"]) == (created["key_id"], "nightly", "active")
    assert shown["last_used"] and shown["expires"]
    assert "key" not in shown and created["key"] not in json.dumps(listed)

    out = adpulse(server, "default", "keys", "revoke", created["key_id"])
    assert out.returncode == 0, out.stderr
    with AdpulseClient(server.address, api_key=created["key"]) as own:
        err = _error(own.query_metrics)
    assert (err.code, err.reason, err.metadata) == (
        "UNAUTHENTICATED",
        "API_KEY_REVOKED",
        {"key_id": created["key_id"]},
    )
    assert json.loads(adpulse(server, "default", "keys", "list", "--tenant", tenant, "--json").stdout) == {
        "keys": []
    }
    everything = json.loads(adpulse(server, "default", "keys", "list", "--all", "--json").stdout)["keys"]
    assert {k["key_id"]: k["state"] for k in everything}[created["key_id"]] == "revoked"
    tenants = json.loads(adpulse(server, "default", "tenants", "list", "--json").stdout)["tenants"]
    assert {"default", tenant} <= {t["name"] for t in tenants}


def test_an_expired_key_is_refused_saying_so(
    operator: AdpulseClient, registered: str, server: ServerProcess
) -> None:
    created = operator.create_api_key(["read"], tenant=registered, ttl=dt.timedelta(seconds=1))
    with AdpulseClient(server.address, api_key=created.key) as client:
        client.query_metrics()
        time.sleep(1.5)
        err = _error(client.query_metrics)
    assert (err.code, err.reason) == ("UNAUTHENTICATED", "API_KEY_EXPIRED")
    err = _error(lambda: operator.create_api_key(["read"], tenant=registered, ttl=dt.timedelta(seconds=-5)))
    assert (err.code, [v.field for v in err.violations]) == ("INVALID_ARGUMENT", ["expire_time"])


def test_a_tenant_admin_looks_after_its_own_tenant_only(
    operator: AdpulseClient, registered: str, server: ServerProcess
) -> None:
    other = f"o-{uuid.uuid4().hex[:10]}"
    operator.create_tenant(other)
    stranger = operator.create_api_key(["read"], tenant=other)
    admin_key = operator.create_api_key(["admin"], tenant=registered).key
    with AdpulseClient(server.address, api_key=admin_key) as admin:
        made = admin.create_api_key(["ingest"], name="loader")
        assert made.api_key.tenant == registered
        assert {k.key_id for k in admin.api_keys()} == {_key_id(admin_key), made.api_key.key_id}
        for call in (
            lambda: admin.create_api_key(["read"], tenant=other),
            lambda: admin.api_keys(tenant=other),
            lambda: admin.create_api_key(["operator"]),
            admin.tenants,
            lambda: admin.create_tenant("mine-now"),
        ):
            assert _error(call).code == "PERMISSION_DENIED"
        err = _error(lambda: admin.revoke_api_key(stranger.api_key.key_id))
        assert (err.code, err.reason) == ("NOT_FOUND", "API_KEY_NOT_FOUND")
        assert admin.revoke_api_key(made.api_key.key_id).HasField("revoke_time")
    err = _error(lambda: operator.create_api_key(["read"], tenant=f"x-{uuid.uuid4().hex[:8]}"))
    assert (err.code, err.reason) == ("NOT_FOUND", "TENANT_NOT_FOUND")
    err = _error(lambda: operator.create_api_key(["read", "operator"]))
    assert err.code == "INVALID_ARGUMENT"
    assert _error(lambda: operator.create_tenant(registered)).code == "ALREADY_EXISTS"


def test_the_tenant_header_may_only_repeat_a_tenant_keys_own(
    operator: AdpulseClient, registered: str, server: ServerProcess
) -> None:
    key = operator.create_api_key(["read"], tenant=registered).key
    with AdpulseClient(server.address, api_key=key, tenant=registered) as same:
        assert same.query_metrics().totals.impressions == 0
    with AdpulseClient(server.address, api_key=key, tenant="default") as other:
        err = _error(other.query_metrics)
    assert (err.code, err.reason) == ("PERMISSION_DENIED", "OTHER_TENANT")
    with grpc.insecure_channel(server.address) as channel:
        check = channel.unary_unary(
            "/adpulse.v1.TenantService/GetTenantSettings",
            request_serializer=lambda _: b"",
            response_deserializer=lambda b: b,
        )
        bearer = ("authorization", f"Bearer {key}")
        for metadata, code in (
            (
                [bearer, ("x-adpulse-tenant", registered), ("x-adpulse-tenant", registered)],
                "INVALID_ARGUMENT",
            ),
            ([bearer, bearer], "UNAUTHENTICATED"),
            ([("authorization", key)], "UNAUTHENTICATED"),  # no Bearer
            ([("authorization", "Bearer adp_nope")], "UNAUTHENTICATED"),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                check(b"", metadata=metadata, timeout=30)
            assert caught.value.code().name == code, metadata  # type: ignore[attr-defined]


def test_another_tenants_ids_are_not_found(
    operator: AdpulseClient, registered: str, server: ServerProcess, tmp_path: Path
) -> None:
    csv = tmp_path / "demo.csv"
    csv.write_text(demo.dataset(5, end=YESTERDAY, days=60, campaign_count=10)[0])
    owner_key = operator.create_api_key(["ingest", "read", "admin"], tenant=registered).key
    with AdpulseClient(server.address, api_key=owner_key) as owner:
        owner.ingest_files([csv])
        export = owner.export_metrics(apb.ExportMetricsRequest(format=opb.EXPORT_FORMAT_CSV))
        assert owner.wait_operation(export.name).state == "succeeded"
        insight = owner.generate_insights().insights[0].name
    other = f"o-{uuid.uuid4().hex[:10]}"
    operator.create_tenant(other)
    with AdpulseClient(
        server.address, api_key=operator.create_api_key(["read", "admin"], tenant=other).key
    ) as them:
        for call in (
            lambda: them.operation(export.name),
            lambda: list(them.download_export(export.name)),
            lambda: them.update_insight(insight, status="dismissed"),
        ):
            assert _error(call).code == "NOT_FOUND"


def test_the_last_operator_key_cannot_be_revoked(operator: AdpulseClient, server: ServerProcess) -> None:
    operator.create_api_key(["operator"], name="spare")
    for key in operator.api_keys():
        if key.tenant == "" and key.key_id != _key_id(server.admin_key):
            operator.revoke_api_key(key.key_id)  # allowed: the first key is still active
    err = _error(lambda: operator.revoke_api_key(_key_id(server.admin_key)))
    assert (err.code, err.reason) == ("PERMISSION_DENIED", "LAST_OPERATOR_KEY")


def test_no_key_or_secret_reaches_logs_errors_or_the_data_dir(
    operator: AdpulseClient, registered: str, server: ServerProcess
) -> None:
    created = operator.create_api_key(["read"], tenant=registered, name="leak-check")
    secret = created.key.split("_", 2)[2]
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with AdpulseClient(server.address, api_key=created.key, tenant="default") as client:
        err = _error(client.query_metrics)  # a refusal, with the key in the request
    with AdpulseClient(server.address, api_key=created.key[:-1] + "x") as client:
        wrong = _error(client.query_metrics)
    for text in (str(err), json.dumps(err.metadata), str(wrong), json.dumps(wrong.metadata), server.log):
        assert secret not in text and digest not in text
    leaked = []
    for root, _dirs, files in os.walk(server.data_dir):
        for name in files:
            path = Path(root, name)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if secret.encode() in data or created.key.encode() in data:
                leaked.append(str(path))
    assert not leaked
