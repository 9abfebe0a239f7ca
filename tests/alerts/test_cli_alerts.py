"""`adpulse alerts …` against the real server and a real receiver, in both output modes."""

from __future__ import annotations

import json

from tests.alerts.conftest import Receiver
from tests.e2e.test_cli import adpulse
from tests.e2e.test_grpcurl import grpcurl, key
from tests.support.server import ServerProcess


def test_alerts_commands_create_test_list_and_delete(
    alerts_server: ServerProcess, tenant: str, receiver: Receiver
) -> None:
    out = adpulse(alerts_server, tenant, "alerts", "create", receiver.url, "--name", "team", "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    name = created["subscription"]["name"]
    receiver.secret = created["signing_secret"]
    receiver.start()

    out = adpulse(alerts_server, tenant, "alerts", "test", name.removeprefix("alertSubscriptions/"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(": delivered (HTTP 200)")
    assert [r["signed"] for r in receiver.requests()] == [True]

    out = adpulse(alerts_server, tenant, "alerts", "deliveries", "--json")
    (delivery,) = json.loads(out.stdout)["deliveries"]
    assert (delivery["state"], delivery["attempts"], delivery["event"]) == (
        "ALERT_DELIVERY_STATE_DELIVERED",
        1,
        "ALERT_EVENT_TEST",
    )
    table = adpulse(alerts_server, tenant, "alerts", "deliveries").stdout.splitlines()
    assert table[0].split()[:6] == ["delivery", "subscription", "event", "subject", "state", "attempts"]
    assert table[2].split()[2:6] == ["test", delivery["subject"], "delivered", "1"]

    listed = adpulse(alerts_server, tenant, "alerts", "list").stdout
    assert name.removeprefix("alertSubscriptions/") in listed and receiver.secret not in listed
    assert adpulse(alerts_server, tenant, "alerts", "delete", name).returncode == 0
    out = adpulse(alerts_server, tenant, "alerts", "delete", name)
    assert out.returncode == 1 and "does not exist" in out.stderr


def test_a_refused_url_is_a_clear_error_naming_the_field(alerts_server: ServerProcess, tenant: str) -> None:
    out = adpulse(alerts_server, tenant, "alerts", "create", "http://hooks.example.com/x")
    assert out.returncode == 1
    assert "subscription.webhook_url: plain http only to a loopback address" in out.stderr


def test_grpcurl_creates_and_lists_a_subscription_and_gets_field_errors(
    alerts_server: ServerProcess, tenant: str
) -> None:
    header = f"x-adpulse-tenant: {tenant}"
    request = json.dumps(
        {
            "subscription": {
                "webhook_url": "https://hooks.example.com/adpulse",
                "trigger": "ALERT_TRIGGER_INCIDENT",
                "min_severity": "SEVERITY_HIGH",
                "payload_format": "PAYLOAD_FORMAT_SLACK",
            }
        }
    )
    service = "adpulse.v1.AlertService"
    out = grpcurl(
        "-plaintext",
        *key(alerts_server),
        "-H",
        header,
        "-d",
        request,
        alerts_server.address,
        f"{service}/CreateAlertSubscription",
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["signing_secret"].startswith("whsec_")
    assert created["subscription"]["min_severity"] == "SEVERITY_HIGH"
    out = grpcurl(
        "-plaintext",
        *key(alerts_server),
        "-H",
        header,
        alerts_server.address,
        f"{service}/ListAlertSubscriptions",
    )
    assert json.loads(out.stdout)["subscriptions"] == [created["subscription"]]
    out = grpcurl(
        "-plaintext", *key(alerts_server), "-H", header, "-d", '{"name": "alertSubscriptions/nope"}',
        alerts_server.address, f"{service}/TestAlertSubscription",
    )  # fmt: skip
    assert out.returncode != 0 and "InvalidArgument" in out.stderr and "alertSubscriptions/{id}" in out.stderr
