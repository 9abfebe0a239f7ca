"""`adpulse alerts create|list|delete|test|deliveries`: webhooks that alerts reach people by."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adpulse.cli.render import message_json, table, to_json
from adpulse.client import AdpulseClient
from adpulse.client.alerts import DELIVERY_STATES, FORMATS, SEVERITIES, TRIGGERS
from adpulse.v1 import alert_service_pb2 as pb
from adpulse.v1 import analytics_service_pb2 as apb


def register(commands: Any) -> None:
    alerts = commands.add_parser("alerts", help="alert subscriptions (webhooks) and their deliveries")
    sub = alerts.add_subparsers(dest="alerts_command", required=True)

    create = sub.add_parser("create", help="subscribe a webhook URL; prints its signing secret once")
    create.add_argument("url", help="https://… (or http:// to a loopback address)")
    create.add_argument("--trigger", choices=sorted(TRIGGERS), default="incident", help="default incident")
    create.add_argument("--min-severity", choices=list(SEVERITIES), default="low", help="default low")
    create.add_argument("--format", choices=sorted(FORMATS), default="json", help="json (default) or slack")
    create.add_argument("--name", default="", help="a label for people")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(run=run_create, needs_client=True)

    listing = sub.add_parser("list", help="the tenant's subscriptions")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list, needs_client=True)

    delete = sub.add_parser("delete", help="delete a subscription (its unsent deliveries are cancelled)")
    delete.add_argument("subscription", help="alertSubscriptions/ID or ID")
    delete.set_defaults(run=run_delete, needs_client=True)

    test = sub.add_parser("test", help="send a test delivery now and wait for its outcome")
    test.add_argument("subscription", help="alertSubscriptions/ID or ID")
    test.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60; 0: do not)")
    test.add_argument("--json", action="store_true", help="print JSON")
    test.set_defaults(run=run_test, needs_client=True)

    deliveries = sub.add_parser("deliveries", help="deliveries, newest first, with their outcome")
    deliveries.add_argument("--subscription", default="", help="only to this subscription")
    deliveries.add_argument("--state", choices=list(DELIVERY_STATES), default="", help="only in this state")
    deliveries.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    deliveries.add_argument("--json", action="store_true", help="print JSON")
    deliveries.set_defaults(run=run_deliveries, needs_client=True)


def _name(text: str) -> str:
    return text if text.startswith("alertSubscriptions/") else f"alertSubscriptions/{text}"


def _enum(value: int, enum: Any, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _time(message: Any, field: str) -> str:
    return (
        getattr(message, field).ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if message.HasField(field) else ""
    )


def run_create(client: AdpulseClient, args: argparse.Namespace) -> int:
    created = client.create_alert_subscription(
        args.url,
        trigger=args.trigger,
        min_severity=args.min_severity,
        payload_format=args.format,
        display_name=args.name,
    )
    if args.json:
        print(
            to_json(
                {"subscription": message_json(created.subscription), "signing_secret": created.signing_secret}
            )
        )
        return 0
    print(f"created {created.subscription.name}")
    print(f"signing secret: {created.signing_secret}")
    print("(shown only now: the receiver checks the adpulse-signature header with it)", file=sys.stderr)
    return 0


def run_list(client: AdpulseClient, args: argparse.Namespace) -> int:
    found = client.alert_subscriptions()
    if args.json:
        print(to_json({"subscriptions": [message_json(s) for s in found]}))
        return 0
    rows = [
        [
            s.name.removeprefix("alertSubscriptions/"),
            _enum(s.trigger, pb.AlertTrigger, "ALERT_TRIGGER_"),
            _enum(s.min_severity, apb.Severity, "SEVERITY_"),
            _enum(s.payload_format, pb.PayloadFormat, "PAYLOAD_FORMAT_"),
            s.webhook_url,
            s.display_name,
        ]
        for s in found
    ]
    print(table(["subscription", "trigger", "min_severity", "format", "url", "name"], rows))
    return 0


def run_delete(client: AdpulseClient, args: argparse.Namespace) -> int:
    client.delete_alert_subscription(_name(args.subscription))
    print(f"deleted {_name(args.subscription)}")
    return 0


def run_test(client: AdpulseClient, args: argparse.Namespace) -> int:
    delivery = client.test_alert_subscription(_name(args.subscription))
    if args.timeout > 0:
        delivery = client.wait_alert_delivery(delivery.name, timeout=args.timeout)
    if args.json:
        print(to_json(message_json(delivery)))
    else:
        state = _enum(delivery.state, pb.AlertDeliveryState, "ALERT_DELIVERY_STATE_")
        detail = delivery.last_error or (
            f"HTTP {delivery.last_status_code}" if delivery.last_status_code else ""
        )
        print(f"{delivery.name}: {state}" + (f" ({detail})" if detail else ""))
    return 1 if delivery.state == pb.ALERT_DELIVERY_STATE_FAILED else 0


def run_deliveries(client: AdpulseClient, args: argparse.Namespace) -> int:
    page = client.alert_deliveries(
        subscription=_name(args.subscription) if args.subscription else "", state=args.state, limit=args.limit
    )
    if args.json:
        print(to_json({"deliveries": [message_json(d) for d in page.deliveries]}))
        return 0
    rows = [
        [
            d.name.removeprefix("alertDeliveries/"),
            d.subscription.removeprefix("alertSubscriptions/"),
            _enum(d.event, pb.AlertEvent, "ALERT_EVENT_"),
            d.subject,
            _enum(d.state, pb.AlertDeliveryState, "ALERT_DELIVERY_STATE_"),
            d.attempts,
            d.last_status_code or None,
            _time(d, "create_time"),
            d.last_error,
        ]
        for d in page.deliveries
    ]
    print(
        table(
            [
                "delivery",
                "subscription",
                "event",
                "subject",
                "state",
                "attempts",
                "http",
                "created",
                "last_error",
            ],
            rows,
        )
    )
    return 0
