"""Alert deliveries on Celery: the task that makes one attempt, the queue that sends it, and
the upkeep loop every server runs (lost messages found again, daily digests started).

A message names only the delivery; its state is in Postgres, so running a message twice, or
one meant for a delivery that was delivered meanwhile, does nothing. The embedded broker (the
SQLAlchemy transport) loses a message whose consumer dies, and a retry's countdown lives in
the worker that holds it: the upkeep re-sends every delivery overdue in the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from celery import Celery

from adpulse.server.domain.errors import StorageUnavailable
from adpulse.server.ports_alerts import AlertQueue, AlertStore
from adpulse.server.usecases.alerts.dispatch import DigestScheduler

if TYPE_CHECKING:
    from adpulse.server.worker.celery_app import RuntimeHolder

log = logging.getLogger(__name__)
DELIVER_ALERT = "adpulse.deliver_alert"


def register(app: Celery, runtime: RuntimeHolder) -> None:
    @app.task(name=DELIVER_ALERT, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def deliver_alert(delivery_id: str) -> None:
        runner = runtime.get().alerts
        if runner is None:
            log.warning(
                "alert delivery %s reached a worker without alerts; the upkeep re-sends it", delivery_id
            )
            return
        try:
            runner.run(delivery_id)
        except StorageUnavailable:
            # The ledger still says pending or sending: the upkeep re-sends it once overdue.
            log.warning("alert delivery %s: Postgres unavailable; left for the upkeep", delivery_id)


class CeleryAlertQueue:
    """The AlertQueue port over Celery."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue(self, delivery_id: str, countdown: float = 0.0) -> None:
        self._app.send_task(DELIVER_ALERT, args=[delivery_id], countdown=countdown or None)


class AlertUpkeep:
    """Run by every server's upkeep loop (`worker.embedded.Upkeep`), on its beat."""

    def __init__(
        self, store: AlertStore, queue: AlertQueue, digests: DigestScheduler | None, interval: float
    ) -> None:
        self._store = store
        self._queue = queue
        self._digests = digests
        self._interval = interval

    def once(self, now: dt.datetime) -> None:
        # Overdue by a whole interval: a retry's own countdown message normally comes first.
        for delivery_id in self._store.overdue(self._interval):
            self._queue.enqueue(delivery_id)
        if self._digests is not None:
            self._digests.tick(now)
