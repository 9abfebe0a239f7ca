"""The daily scan's schedule: once a day, past a time of day (UTC), one scan per tenant.

A scan is started with the request id `daily-scan-<date>`, so however many schedulers tick
(Celery beat on several machines, several servers, a restart), each tenant gets one scan a day.
"""

from __future__ import annotations

import datetime as dt
import logging

from adpulse.server.domain.operations import OperationKind
from adpulse.server.ports import OperationStore
from adpulse.server.usecases.operations import OperationsUseCase

log = logging.getLogger(__name__)


class DailyScanScheduler:
    def __init__(self, operations: OperationsUseCase, store: OperationStore, at: dt.time) -> None:
        self._operations = operations
        self._store = store
        self._at = at

    def tick(self, now: dt.datetime) -> None:
        """Starts today's scan of every tenant that has none yet, once `now` is past the hour."""
        if now.time() < self._at:
            return
        day = now.date().isoformat()
        for tenant in self._store.tenants():
            operation = self._operations.start(
                tenant, OperationKind.DAILY_SCAN, {"scan_date": day}, request_id=f"daily-scan-{day}"
            )
            log.debug("daily scan of %s for %s: %s", tenant, day, operation.name)
