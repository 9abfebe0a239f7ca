"""Bodies of deliveries: adpulse's event JSON, or a Slack incoming-webhook message.

The body is fixed when the delivery is recorded, so each retry sends the same bytes (only the
signature's timestamp changes). Money is a decimal string in its currency, from exact micros.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from adpulse.server.domain.alerts import AlertEvent, PayloadFormat, Subscription
from adpulse.server.domain.insights import Insight

TEST_MESSAGE = "A test delivery from adpulse: this endpoint is reached and can check the signature."
_SLACK_HEADER_CHARS = 150
_SLACK_SECTION_CHARS = 2900
_SLACK_MAX_SECTIONS = 20


def body(
    subscription: Subscription,
    delivery_id: str,
    event: AlertEvent,
    insights: Sequence[Insight],
    *,
    created: dt.datetime,
    digest_date: dt.date | None = None,
) -> bytes:
    if subscription.payload_format is PayloadFormat.SLACK:
        document = _slack(subscription, event, insights, digest_date)
    else:
        document = _event(
            subscription, delivery_id, event, insights, created=created, digest_date=digest_date
        )
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _event(
    subscription: Subscription,
    delivery_id: str,
    event: AlertEvent,
    insights: Sequence[Insight],
    *,
    created: dt.datetime,
    digest_date: dt.date | None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": delivery_id,
        "type": event.value,
        "created": int(created.timestamp()),
        "tenant": subscription.tenant,
        "subscription": subscription.name,
    }
    if event is AlertEvent.INCIDENT:
        document["incident"] = _insight(insights[0])
    elif event is AlertEvent.DAILY_DIGEST:
        document["digest"] = {
            "date": digest_date.isoformat() if digest_date else "",
            "insights": [_insight(i) for i in insights],
        }
    else:
        document["test"] = {"message": TEST_MESSAGE}
    return document


def _money(micros: int | None) -> str | None:
    return None if micros is None else f"{Decimal(micros).scaleb(-6):.2f}"


def _insight(insight: Insight) -> dict[str, Any]:
    return {
        "name": f"insights/{insight.id}",
        "type": insight.type.value,
        "severity": insight.severity.name.lower(),
        "title": insight.title,
        "body": insight.body,
        "period_start_date": insight.period_start.isoformat(),
        "period_end_date": insight.period_end.isoformat(),
        "subject": dict(insight.subject),
        "impact": _money(insight.impact_micros),
        "currency": insight.currency,
        "recommended_action": insight.recommended_action,
    }


def _slack(
    subscription: Subscription, event: AlertEvent, insights: Sequence[Insight], digest_date: dt.date | None
) -> dict[str, Any]:
    if event is AlertEvent.INCIDENT:
        headline = f"{insights[0].severity.name.title()} incident: {insights[0].title}"
    elif event is AlertEvent.DAILY_DIGEST:
        headline = f"adpulse digest {digest_date}: {len(insights)} open insights"
    else:
        headline = TEST_MESSAGE
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:_SLACK_HEADER_CHARS]}}
    ]
    for insight in insights[:_SLACK_MAX_SECTIONS]:
        lines = [f"*{insight.severity.name.title()}* · {insight.title}", insight.body]
        impact = _money(insight.impact_micros)
        if impact is not None:
            lines.append(f"Impact: {Decimal(impact):,} {insight.currency}")
        if insight.recommended_action:
            lines.append(f"Next: {insight.recommended_action}")
        lines.append(f"`insights/{insight.id}` · {insight.period_start}..{insight.period_end}")
        text = "\n".join(line for line in lines if line)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:_SLACK_SECTION_CHARS]}})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"tenant {subscription.tenant} · {subscription.name}"}],
        }
    )
    return {"text": headline, "blocks": blocks}
