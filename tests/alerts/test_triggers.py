"""What fires subscriptions: incidents found by detection (in a backfill's insights step, run
by the worker, and by GenerateInsights), each alerted once, and the daily digest."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from adpulse.client import AdpulseClient, demo
from adpulse.v1 import alert_service_pb2 as pb
from adpulse.v1 import analytics_service_pb2 as apb
from tests.alerts.conftest import Receiver
from tests.jobs.support import wait_for


def _settled(client: AdpulseClient, subscription: str) -> list[pb.AlertDelivery]:
    """The subscription's deliveries once none is pending or being sent."""
    unfinished = {pb.ALERT_DELIVERY_STATE_PENDING, pb.ALERT_DELIVERY_STATE_SENDING}

    def page() -> list[pb.AlertDelivery]:
        return list(client.alert_deliveries(subscription=subscription, limit=1000).deliveries)

    wait_for(lambda: all(d.state not in unfinished for d in page()), "deliveries to settle", 120)
    return page()


def test_new_incidents_alert_once_each_and_the_digest_sums_up_the_day(
    alerts_client: AdpulseClient, receivers: Callable[[], Receiver], tmp_path: Path
) -> None:
    everything, severe, digest = receivers(), receivers(), receivers()
    subscriptions = {}
    for target, options in (
        (everything, {"trigger": "incident"}),
        (severe, {"trigger": "incident", "min_severity": "high", "payload_format": "slack"}),
    ):
        created = alerts_client.create_alert_subscription(target.url, **options)
        target.secret = created.signing_secret
        subscriptions[id(target)] = created.subscription.name
        target.start()

    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    text, _ = demo.dataset(3, end=end, days=90, campaign_count=10)
    (tmp_path / "demo.csv").write_text(text)
    assert alerts_client.ingest_files([tmp_path / "demo.csv"]).rejected == 0
    first = end - dt.timedelta(days=27)
    done = alerts_client.wait_operation(
        alerts_client.backfill(first.isoformat(), end.isoformat(), steps=["insights"]).name, timeout=300
    )
    assert done.state == "succeeded", done

    anomalies = [i for i in alerts_client.list_insights() if i.type == apb.INSIGHT_TYPE_ANOMALY]
    assert anomalies, "the demo data has incidents to find"
    delivered = _settled(alerts_client, subscriptions[id(everything)])
    assert {d.subject for d in delivered} == {i.name for i in anomalies}
    assert {d.state for d in delivered} == {pb.ALERT_DELIVERY_STATE_DELIVERED}
    bodies = {r["body"]["incident"]["name"]: r for r in everything.requests()}
    assert bodies.keys() == {i.name for i in anomalies} and len(everything.requests()) == len(anomalies)
    assert all(r["signed"] and r["event"] == "incident" for r in bodies.values())
    one = next(i for i in anomalies)
    sent = bodies[one.name]["body"]["incident"]
    assert (sent["title"], sent["type"], sent["period_end_date"]) == (
        one.title,
        "anomaly",
        one.period_end_date,
    )

    high = {i.name for i in anomalies if i.severity >= apb.SEVERITY_HIGH}
    assert {d.subject for d in _settled(alerts_client, subscriptions[id(severe)])} == high
    for request in severe.requests():
        assert request["body"]["text"] and request["body"]["blocks"][0]["type"] == "header"

    # Found again by GenerateInsights: the same incidents, so no new alert; and a subscription
    # made after they were first found does not hear of them.
    latecomer = alerts_client.create_alert_subscription(everything.url).subscription.name
    alerts_client.generate_insights(start=first.isoformat(), end=end.isoformat())
    time.sleep(3)
    assert len(_settled(alerts_client, subscriptions[id(everything)])) == len(anomalies)
    assert len(everything.requests()) == len(anomalies)
    assert _settled(alerts_client, latecomer) == []

    # The digest is due at any time of day on this server: the next upkeep round sends it.
    created = alerts_client.create_alert_subscription(digest.url, trigger="daily_digest")
    digest.secret = created.signing_secret
    digest.start()
    wait_for(lambda: len(digest.requests()) == 1, "the daily digest", 60)
    (sent_digest,) = _settled(alerts_client, created.subscription.name)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert (sent_digest.event, sent_digest.subject) == (pb.ALERT_EVENT_DAILY_DIGEST, today)
    (request,) = digest.requests()
    listed = request["body"]["digest"]["insights"]
    assert request["signed"] and request["body"]["digest"]["date"] == today
    # Open insights about the last week (ADPULSE_ALERT_DIGEST_DAYS), highest priority first.
    week = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=7)).isoformat()
    expected = [i.name for i in alerts_client.list_insights(statuses=["new"]) if i.period_end_date >= week]
    assert listed and [x["name"] for x in listed] == expected[:20]
    time.sleep(3)
    assert len(digest.requests()) == 1  # once a day
