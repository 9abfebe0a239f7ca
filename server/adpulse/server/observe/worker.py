"""A job worker's metrics: what its tasks did, on the worker's own endpoint.

A deployed worker runs tasks in forked processes (Celery's prefork pool), so its metrics use
prometheus_client's multiprocess mode: each process writes its values to files in one
directory and the endpoint sums them at scrape time.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, multiprocess, values

from adpulse.server.observe.metrics import Metrics

_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_metrics(tenant_labels: bool) -> tuple[Metrics, CollectorRegistry]:
    """Metrics whose values every process of this worker shares, and the registry to serve."""
    given = os.environ.get(_MULTIPROC_DIR)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="adpulse-worker-metrics-"))
    if not given:
        # A directory of our own making is nobody else's to clean up; forked children inherit
        # the handler but exit through os._exit, so only the worker's main process runs it.
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    # Values a previous run left would be summed into this one's.
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[_MULTIPROC_DIR] = str(directory)
    # prometheus_client picks its value class when it is first imported, which happened before
    # this process knew it would fork; choose the shared one now, before any metric exists.
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    metrics = Metrics(tenant_labels=tenant_labels)
    served = CollectorRegistry()
    multiprocess.MultiProcessCollector(served)  # type: ignore[no-untyped-call]
    return metrics, served


def count_tasks(metrics: Metrics) -> None:
    """Counts each task by how it ended (its return value names the outcome) and times it."""
    from celery import signals

    started: dict[str, float] = {}

    def prerun(task_id: str = "", **_: Any) -> None:
        started[task_id] = time.monotonic()

    def postrun(task_id: str = "", task: Any = None, retval: Any = None, state: str = "", **_: Any) -> None:
        began = started.pop(task_id, None)
        name = getattr(task, "name", "unknown")
        outcome = retval if state == "SUCCESS" and isinstance(retval, str) else "failed"
        metrics.tasks.labels(name, outcome).inc()
        if began is not None:
            metrics.task_seconds.labels(name).observe(time.monotonic() - began)

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
