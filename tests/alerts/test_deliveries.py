"""Alert subscriptions and signed webhook deliveries against the real server (embedded shape:
the Celery worker in the server, Postgres as the broker) and real HTTP receivers."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

import pytest

from adpulse.client import AdpulseClient, AdpulseError, WebhookSignatureError, verify_signature
from adpulse.v1 import alert_service_pb2 as pb
from tests.alerts.conftest import Receiver
from tests.jobs.support import wait_for
from tests.support.server import ServerProcess


def _error(call: object) -> AdpulseError:
    with pytest.raises(AdpulseError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def _subscribe(client: AdpulseClient, receiver: Receiver, **options: str) -> str:
    created = client.create_alert_subscription(receiver.url, **options)
    receiver.secret = created.signing_secret
    return created.subscription.name


def test_subscriptions_are_created_listed_and_deleted_and_the_secret_is_shown_once(
    alerts_client: AdpulseClient, receiver: Receiver, alerts_server: ServerProcess
) -> None:
    created = alerts_client.create_alert_subscription(
        receiver.url, trigger="daily_digest", min_severity="high", payload_format="slack", display_name="ops"
    )
    assert created.signing_secret.startswith("whsec_") and len(created.signing_secret) > 40
    s = created.subscription
    assert s.name.startswith("alertSubscriptions/sub-")
    assert (s.trigger, s.payload_format, s.display_name) == (
        pb.ALERT_TRIGGER_DAILY_DIGEST,
        pb.PAYLOAD_FORMAT_SLACK,
        "ops",
    )
    listed = alerts_client.alert_subscriptions()
    assert [x.name for x in listed] == [s.name]
    assert created.signing_secret not in str(listed)
    assert created.signing_secret not in alerts_server.log

    with AdpulseClient(alerts_client.target, api_key=alerts_client.api_key, tenant="someone-else") as other:
        assert other.alert_subscriptions() == []
        assert _error(lambda: other.delete_alert_subscription(s.name)).code == "NOT_FOUND"
        assert _error(lambda: other.test_alert_subscription(s.name)).code == "NOT_FOUND"

    alerts_client.delete_alert_subscription(s.name)
    assert alerts_client.alert_subscriptions() == []
    assert _error(lambda: alerts_client.delete_alert_subscription(s.name)).reason == "SUBSCRIPTION_NOT_FOUND"


@pytest.mark.parametrize(
    ("url", "reason", "says"),
    [
        ("", "MISSING_URL", "required"),
        ("http://hooks.example.com/x", "INVALID_URL", "plain http only to a loopback"),
        ("ftp://hooks.example.com/x", "INVALID_URL", "expected https://"),
        ("https://user:pw@hooks.example.com/x", "INVALID_URL", "credentials"),
        ("https://10.1.2.3/x", "BLOCKED_ADDRESS", "private"),
        ("https://169.254.169.254/latest/meta-data", "BLOCKED_ADDRESS", "link-local"),
        ("https://[::ffff:192.168.0.1]/x", "BLOCKED_ADDRESS", "private"),
    ],
)
def test_a_bad_webhook_url_is_refused_naming_the_field(
    alerts_client: AdpulseClient, url: str, reason: str, says: str
) -> None:
    err = _error(lambda: alerts_client.create_alert_subscription(url))
    assert (err.code, err.reason) == ("INVALID_ARGUMENT", reason)
    assert [v.field for v in err.violations] == ["subscription.webhook_url"]
    assert says in err.violations[0].description
    assert alerts_client.alert_subscriptions() == []


def test_a_test_delivery_is_signed_and_its_outcome_listed(
    alerts_client: AdpulseClient, receiver: Receiver
) -> None:
    name = _subscribe(alerts_client, receiver)
    receiver.start()
    delivery = alerts_client.wait_alert_delivery(alerts_client.test_alert_subscription(name).name)
    assert delivery.state == pb.ALERT_DELIVERY_STATE_DELIVERED, delivery
    assert (delivery.attempts, delivery.last_status_code, delivery.event) == (1, 200, pb.ALERT_EVENT_TEST)
    assert delivery.HasField("deliver_time")
    (got,) = receiver.requests()
    assert got["signed"] and got["path"] == "/hooks/adpulse" and got["event"] == "test"
    assert got["delivery"] == delivery.name.removeprefix("alertDeliveries/") == got["body"]["id"]
    assert got["body"]["subscription"] == name
    listed = alerts_client.alert_deliveries(subscription=name).deliveries
    assert [d.name for d in listed] == [delivery.name]
    assert alerts_client.alert_deliveries(state="failed").deliveries == []


def test_the_signature_check_refuses_a_changed_body_another_secret_and_a_replay() -> None:
    from adpulse.client.webhooks import signature

    body, now = b'{"id":"dlv-1"}', 1_800_000_000
    header = f"t={now},v1={signature('whsec_a', now, body)}"
    assert verify_signature("whsec_a", header, body, now=now + 299) == now
    for secret, data, at in (
        ("whsec_a", body + b" ", now),
        ("whsec_b", body, now),
        ("whsec_a", body, now + 301),
    ):
        with pytest.raises(WebhookSignatureError):
            verify_signature(secret, header, data, now=at)


def test_a_receiver_killed_mid_way_gets_retries_and_nothing_acknowledged_twice(
    alerts_client: AdpulseClient, receiver: Receiver
) -> None:
    name = _subscribe(alerts_client, receiver)
    # Answers one delivery, then dies holding the next request without answering it.
    receiver.start("--die-after", "1")
    first = alerts_client.wait_alert_delivery(alerts_client.test_alert_subscription(name).name)
    assert first.state == pb.ALERT_DELIVERY_STATE_DELIVERED
    second = alerts_client.test_alert_subscription(name)
    assert receiver.process is not None
    receiver.process.wait(30)  # it died on the second delivery's request

    def retrying() -> bool:
        d = alerts_client.alert_delivery(second.name)
        return d.attempts >= 3 and d.state == pb.ALERT_DELIVERY_STATE_PENDING

    wait_for(retrying, "retries against the dead receiver", 60)
    pending = alerts_client.alert_delivery(second.name)
    assert "refused" in pending.last_error and pending.last_status_code == 0
    assert pending.HasField("next_attempt_time")

    receiver.start()  # back on the same port
    done = alerts_client.wait_alert_delivery(second.name, timeout=60)
    assert done.state == pb.ALERT_DELIVERY_STATE_DELIVERED and done.attempts > 3, done
    time.sleep(3)  # three upkeep rounds: nothing acknowledged is sent again

    requests = receiver.requests()
    assert all(r["signed"] for r in requests)
    answered = collections.Counter(r["delivery"] for r in requests if r["answered"])
    ids = {d.name.removeprefix("alertDeliveries/") for d in (first, second)}
    assert answered == dict.fromkeys(ids, 1)
    # The second delivery reached the receiver once before it died, unanswered: the one repeat
    # a receiver can see, with the same delivery id, so it can tell.
    unanswered = [r["delivery"] for r in requests if not r["answered"]]
    assert unanswered == [second.name.removeprefix("alertDeliveries/")]


def test_a_redirect_is_not_followed_and_fails_the_delivery(
    alerts_client: AdpulseClient, receiver: Receiver, receivers: Callable[[], Receiver]
) -> None:
    name = _subscribe(alerts_client, receiver)
    second_receiver = receivers()
    second_receiver.secret = receiver.secret
    second_receiver.start()
    receiver.start("--status", "302", "--location", second_receiver.url)
    delivery = alerts_client.wait_alert_delivery(alerts_client.test_alert_subscription(name).name)
    assert delivery.state == pb.ALERT_DELIVERY_STATE_FAILED
    assert (delivery.attempts, delivery.last_status_code) == (1, 302)
    assert "redirects are not followed" in delivery.last_error
    assert second_receiver.requests() == []


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    alerts_client: AdpulseClient, receiver: Receiver
) -> None:
    name = _subscribe(alerts_client, receiver)
    receiver.start("--status", "503")
    delivery = alerts_client.wait_alert_delivery(alerts_client.test_alert_subscription(name).name, timeout=90)
    assert delivery.state == pb.ALERT_DELIVERY_STATE_FAILED, delivery
    assert delivery.attempts == 6 and delivery.last_status_code == 503
    assert delivery.last_error == "gave up after 6 attempts: HTTP 503 from the receiver"
    requests = receiver.requests()
    assert len(requests) == 6 and len({r["delivery"] for r in requests}) == 1
    assert alerts_client.alert_deliveries(state="failed").deliveries[0].name == delivery.name


def test_a_permanent_refusal_is_not_retried(alerts_client: AdpulseClient, receiver: Receiver) -> None:
    name = _subscribe(alerts_client, receiver)
    receiver.start("--status", "401")
    delivery = alerts_client.wait_alert_delivery(alerts_client.test_alert_subscription(name).name)
    assert (delivery.state, delivery.attempts) == (pb.ALERT_DELIVERY_STATE_FAILED, 1)
    assert delivery.last_error == "HTTP 401 from the receiver"


def test_deleting_a_subscription_cancels_its_unsent_deliveries(
    alerts_client: AdpulseClient, receiver: Receiver
) -> None:
    name = _subscribe(alerts_client, receiver)  # no receiver running: the delivery keeps retrying
    delivery = alerts_client.test_alert_subscription(name)
    wait_for(lambda: alerts_client.alert_delivery(delivery.name).attempts >= 1, "a first attempt")
    alerts_client.delete_alert_subscription(name)
    wait_for(
        lambda: alerts_client.alert_delivery(delivery.name).state == pb.ALERT_DELIVERY_STATE_CANCELLED,
        "the delivery to be cancelled",
    )
    assert alerts_client.alert_deliveries().deliveries[0].name == delivery.name  # history stays
