"""The Celery application: one task that advances an operation, one that schedules daily scans.

A message carries only an operation id; everything else is in Postgres, so a task is
idempotent and any worker can run any message any number of times. Messages are acknowledged
after the task (`acks_late`) and given back when a worker process dies under them
(`reject_on_worker_lost`), so RabbitMQ hands them to another worker. A transient storage
failure is retried with exponential backoff and jitter, a bounded number of times; any other
failure fails the operation once (a bad file is not retried forever). Never `task_always_eager`:
tasks always go through a broker, as in production.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.schedules import crontab

from adpulse.server.domain.errors import StorageUnavailable
from adpulse.server.usecases.alerts.deliver import DeliveryRunner
from adpulse.server.usecases.jobs.runner import OperationRunner, Outcome
from adpulse.server.usecases.jobs.schedule import DailyScanScheduler
from adpulse.server.worker import alerts

log = logging.getLogger(__name__)
QUEUE = "adpulse.operations"
RUN_OPERATION = "adpulse.run_operation"
SCHEDULE_DAILY_SCANS = "adpulse.schedule_daily_scans"
RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 60.0


@dataclass
class JobRuntime:
    """What tasks need, built once per worker process (after the fork, in a prefork pool)."""

    runner: OperationRunner
    scheduler: DailyScanScheduler | None
    max_retries: int
    close: Callable[[], None]
    alerts: DeliveryRunner | None = None


class RuntimeHolder:
    """Builds the runtime lazily in the process that runs tasks, so every process has its own
    connections and clients: nothing opened before a fork is used after it."""

    def __init__(self, build: Callable[[], JobRuntime]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._runtime: JobRuntime | None = None
        self._pid = 0

    def get(self) -> JobRuntime:
        with self._lock:
            if self._runtime is None or self._pid != os.getpid():
                self._runtime, self._pid = self._build(), os.getpid()
            return self._runtime

    def close(self) -> None:
        with self._lock:
            if self._runtime is not None and self._pid == os.getpid():
                self._runtime.close()
            self._runtime = None


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter: 1, 2, 4 … 60 s at most, each randomly shortened,
    so workers that failed together do not retry together."""
    return random.uniform(0.5, 1.0) * min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * float(2**retries))


def make_app(broker_url: str, runtime: RuntimeHolder, daily_scan_at: dt.time | None = None) -> Celery:
    app = Celery("adpulse", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message per worker thread or process at a time: a long job must not sit on
        # messages that another worker could run.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # A task whose broker connection dropped keeps running; its operation's lock keeps a
        # redelivered copy from running it twice, and the copy is dropped.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # The SQLAlchemy transport has no fanout exchanges; nothing here uses remote control.
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        timezone="UTC",
        enable_utc=True,
    )
    if daily_scan_at is not None:
        app.conf.beat_schedule = {
            "daily-scans": {
                "task": SCHEDULE_DAILY_SCANS,
                "schedule": crontab(hour=daily_scan_at.hour, minute=daily_scan_at.minute),
            }
        }

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_OPERATION, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None
    )
    def run_operation(task: Any, op_id: str) -> str:
        """Advances the operation; the outcome it returns is what the worker's metrics count."""
        current = runtime.get()
        try:
            outcome = current.runner.run(op_id)
        except StorageUnavailable:
            outcome = Outcome.RETRY  # Postgres itself failed: the operation waits for a retry
        # Messages go out through `app` itself: inside a worker thread a task's own `.app` (and
        # so `task.retry`) can resolve to Celery's default app, which has no broker configured.
        if outcome is Outcome.CONTINUE:
            app.send_task(RUN_OPERATION, args=[op_id])
        elif outcome is Outcome.RETRY:
            retries = task.request.retries
            if retries >= current.max_retries:
                current.runner.give_up(
                    op_id,
                    StorageUnavailable(
                        f"a store stayed unavailable through {retries} retries; start the job again later",
                        "STORAGE_UNAVAILABLE",
                    ),
                )
                return "gave_up"
            app.send_task(
                RUN_OPERATION, args=[op_id], countdown=backoff_seconds(retries), retries=retries + 1
            )
        return outcome.value

    @app.task(name=SCHEDULE_DAILY_SCANS, acks_late=True)  # type: ignore[untyped-decorator]
    def schedule_daily_scans() -> None:
        scheduler = runtime.get().scheduler
        if scheduler is None:
            log.warning("daily scans are off here (ADPULSE_DAILY_SCAN_AT=off); not scheduling")
            return
        scheduler.tick(dt.datetime.now(dt.UTC))

    alerts.register(app, runtime)
    return app


class CeleryJobQueue:
    """The JobQueue port over Celery."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue(self, op_id: str) -> None:
        self._app.send_task(RUN_OPERATION, args=[op_id])
