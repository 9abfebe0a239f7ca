"""What fires subscriptions: new incidents as insights are stored, and the daily digest.

Each event becomes a pending delivery in the ledger first and a queue message second. The
ledger keeps one delivery per subscription and subject (`insights/{id}`, a digest's date), so
an incident that detection finds again on every scan alerts once, and a message lost by the
broker is found again by the upkeep (`overdue`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from adpulse.server.domain.alerts import AlertEvent, AlertTrigger, NewDelivery, Subscription
from adpulse.server.domain.insights import Insight, InsightFilter, InsightStatus, InsightType
from adpulse.server.ports import InsightStore
from adpulse.server.ports_alerts import AlertQueue, AlertStore
from adpulse.server.usecases.alerts import payloads
from adpulse.server.usecases.alerts.subscriptions import new_id

log = logging.getLogger(__name__)


class AlertDispatcher:
    """The InsightEvents port: stored insights in, incident deliveries out."""

    def __init__(self, store: AlertStore, queue: AlertQueue, now: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._queue = queue
        self._now = now

    def stored(self, tenant: str, insights: Sequence[Insight]) -> None:
        """Never fails the insights call that stored them: insights are stored already, and
        a dispatch that failed happens when the incident is stored again (the next scan)."""
        try:
            self._dispatch(tenant, insights)
        except Exception:
            log.warning("alerts for the insights of %s were not dispatched; the next scan retries", tenant,
                        exc_info=True)  # fmt: skip

    def _dispatch(self, tenant: str, insights: Sequence[Insight]) -> None:
        incidents = [i for i in insights if i.type is InsightType.ANOMALY and i.status is InsightStatus.NEW]
        if not incidents:
            return
        created = self._now()
        deliveries = [
            _incident(subscription, incident, created)
            for subscription in self._store.subscribed(tenant, AlertTrigger.INCIDENT)
            for incident in incidents
            if incident.severity >= subscription.min_severity and _new_to(subscription, incident)
        ]
        if deliveries:
            for delivery_id in self._store.add_deliveries(tenant, deliveries):
                self._queue.enqueue(delivery_id)


def _new_to(subscription: Subscription, incident: Insight) -> bool:
    """An incident first stored before the subscription existed is not news to it."""
    if subscription.created_at is None or incident.created_at is None:
        return True
    return incident.created_at >= subscription.created_at


def _incident(subscription: Subscription, incident: Insight, created: dt.datetime) -> NewDelivery:
    delivery_id = new_id("dlv", 24)
    body = payloads.body(subscription, delivery_id, AlertEvent.INCIDENT, [incident], created=created)
    return NewDelivery(delivery_id, subscription.id, AlertEvent.INCIDENT, f"insights/{incident.id}", body)


class DigestScheduler:
    """Once a day past `at` (UTC), one digest per daily-digest subscription: its tenant's open
    insights at or above its severity whose period ends within the last `days` days, highest
    priority first, at most `max_insights`. A day with nothing to report sends nothing.

    Every server ticks; the ledger's one delivery per subscription and date keeps several
    servers (or a restart) from sending a day's digest twice.
    """

    def __init__(
        self,
        store: AlertStore,
        insights: InsightStore,
        queue: AlertQueue,
        *,
        at: dt.time,
        days: int,
        max_insights: int,
    ) -> None:
        self._store = store
        self._insights = insights
        self._queue = queue
        self._at = at
        self._days = days
        self._max_insights = max_insights
        self._decided: set[tuple[str, str, dt.date]] = set()

    def tick(self, now: dt.datetime) -> None:
        if now.time() < self._at:
            return
        day = now.date()
        for subscription in self._store.subscribed(None, AlertTrigger.DAILY_DIGEST):
            key = (subscription.tenant, subscription.id, day)
            if key in self._decided:
                continue
            chosen = InsightFilter(
                statuses=frozenset({InsightStatus.NEW}),
                min_severity=subscription.min_severity,
                start=day - dt.timedelta(days=self._days),
            )
            found, _ = self._insights.page(subscription.tenant, chosen, 0, self._max_insights)
            if found:
                delivery_id = new_id("dlv", 24)
                body = payloads.body(
                    subscription, delivery_id, AlertEvent.DAILY_DIGEST, found, created=now, digest_date=day
                )
                digest = NewDelivery(
                    delivery_id, subscription.id, AlertEvent.DAILY_DIGEST, day.isoformat(), body
                )
                for added in self._store.add_deliveries(subscription.tenant, [digest]):
                    self._queue.enqueue(added)
            self._decided.add(key)
        self._decided = {k for k in self._decided if k[2] == day}
