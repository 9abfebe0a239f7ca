"""Jobs inside the server process: a Celery worker on threads, and the upkeep loop.

The embedded shape must run its worker in the server, because chDB lets one process at a time
open the fact store. The server may also consume from RabbitMQ this way (a deployed server that
works jobs too). The upkeep loop runs in every server: it re-sends operations whose worker died
or whose message may be lost (the SQLAlchemy transport loses a message taken by a worker that
is killed), and, in the embedded shape, schedules the daily scans and prunes delivered
messages.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence

from celery import Celery
from celery.platforms import EX_OK
from celery.worker import state as worker_state

from adpulse.server.ports import JobQueue, OperationStore
from adpulse.server.usecases.jobs.runner import OperationRunner
from adpulse.server.usecases.jobs.schedule import DailyScanScheduler
from adpulse.server.worker.celery_app import QUEUE

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, app: Celery, runner: OperationRunner, concurrency: int, name: str) -> None:
        self._runner = runner
        self._worker = app.WorkController(
            pool_cls="threads",
            concurrency=concurrency,
            hostname=f"{name}@embedded",
            queues=[QUEUE],
            loglevel="WARNING",
        )
        self._thread = threading.Thread(target=self._worker.start, name="celery-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Running jobs stop at their next chunk and are queued again; then the worker stops."""
        self._runner.stopping.set()
        # The worker must shut down in its own thread: calling `stop()` from here would use its
        # AMQP connection from two threads at once (py-amqp is not thread-safe) and hang on the
        # reply to basic.cancel. The event loop checks this flag at each turn, as it does after
        # a SIGTERM in a standalone worker.
        worker_state.should_stop = EX_OK
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the embedded worker did not stop within %s s", timeout)


class Upkeep:
    def __init__(
        self,
        store: OperationStore,
        *,
        queue: JobQueue,
        interval: float,
        requeue_after: dt.timedelta,
        scheduler: DailyScanScheduler | None,
        prune: Callable[[], int] | None,
        also: Sequence[Callable[[dt.datetime], None]] = (),
    ) -> None:
        self._store = store
        self._queue = queue
        self._interval = interval
        self._requeue_after = requeue_after
        self._scheduler = scheduler
        self._prune = prune
        self._also = tuple(also)  # other upkeep on the same beat (alert deliveries, digests)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="operations-upkeep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        # The first pass re-sends every queued operation: after a restart, messages the last
        # process had taken are gone with it. Duplicates are harmless (the lock drops them).
        requeue_after = dt.timedelta(0)
        while True:
            try:
                self.once(requeue_after)
            except Exception:
                log.warning("operations upkeep failed; will try again", exc_info=True)
            requeue_after = self._requeue_after
            if self._stop.wait(self._interval):
                return

    def once(self, requeue_after: dt.timedelta) -> None:
        for op_id in self._store.reconcile(requeue_after):
            log.info("operation %s: sending it to the workers again", op_id)
            self._queue.enqueue(op_id)
        if self._scheduler is not None:
            self._scheduler.tick(dt.datetime.now(dt.UTC))
        if self._prune is not None:
            self._prune()
        for task in self._also:
            task(dt.datetime.now(dt.UTC))
