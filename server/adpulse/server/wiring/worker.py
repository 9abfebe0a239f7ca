"""An `adpulse worker` process's runtime. It imports nothing of the gRPC transport nor the
server's build, so a worker loads no servicers (tests/unit/test_layers.py checks)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from adpulse.server.observe.instrument import Instruments
from adpulse.server.observe.metrics import Metrics
from adpulse.server.settings import Settings, SettingsError
from adpulse.server.storage.secret_box import SecretBox
from adpulse.server.usecases.operations import OperationsUseCase
from adpulse.server.wiring.core import build_core, close_all
from adpulse.server.wiring.jobs import runtime
from adpulse.server.worker.celery_app import CeleryJobQueue, JobRuntime

log = logging.getLogger(__name__)


def build_worker_runtime(settings: Settings, celery: Any, metrics: Metrics) -> JobRuntime:
    """What an `adpulse worker` process needs to run tasks: its own connections (built in the
    process that uses them, after any fork) to the Postgres and ClickHouse of the settings,
    observed into the worker's `metrics`."""
    if settings.postgres_dsn is None:
        raise SettingsError("adpulse worker needs ADPULSE_POSTGRES_DSN: the Postgres the servers use")
    closers: list[Callable[[], None]] = []
    try:
        owner = f"wrk-{uuid.uuid4().hex[:16]}"
        core = build_core(
            settings, settings.postgres_dsn, owner, closers, inst=Instruments(metrics), celery=celery
        )
        operations = OperationsUseCase(core.operations, CeleryJobQueue(celery), core.files)
        # A worker signs with the servers' key (the same ADPULSE_ALERT_KEY_FILE); it never makes one.
        try:
            box: SecretBox | None = SecretBox.from_file(settings.effective_alert_key_file, create=False)
        except SettingsError as err:
            log.warning("%s; this worker runs jobs but sends no alerts", err)
            box = None
        return runtime(settings, core, operations, owner, close=lambda: close_all(closers), box=box)
    except BaseException:
        with contextlib.suppress(Exception):
            close_all(closers)
        raise
