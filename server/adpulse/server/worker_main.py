"""`adpulse worker`: a Celery worker of the deployed shape, consuming from RabbitMQ.

A process entry point beside `main` (the server's), not inside the `worker` package: it is the
one place that hands the worker the runtime `wiring.worker` wires, so the tasks, queues and
runtime holder of `adpulse.server.worker` never depend on the composition root.

Any number of them may run, on any machine that reaches the broker, Postgres and ClickHouse
(and the shared import and export directories). Each worker process opens its own connections
when it runs its first task, so a prefork pool never shares a connection across a fork. With
chDB as the fact store (a single-process engine) the pool is threads in one process.
"""

from __future__ import annotations

import logging
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from celery import signals

from adpulse.server.observe import logs, traces
from adpulse.server.observe import worker as observe_worker
from adpulse.server.observe.metrics import Metrics
from adpulse.server.settings import Settings
from adpulse.server.wiring.worker import build_worker_runtime
from adpulse.server.worker.celery_app import QUEUE, JobRuntime, RuntimeHolder, make_app

log = logging.getLogger("adpulse.worker")
READY_FILE = Path(tempfile.gettempdir()) / "adpulse-worker.ready"


def work(settings: Settings, concurrency: int, beat: bool) -> int:
    logs.configure(settings.log_format, settings.log_level)
    if not settings.broker_url:
        print(
            "adpulse: `adpulse worker` needs ADPULSE_BROKER_URL (e.g. amqp://…); without a broker the "
            "worker runs inside `adpulse serve`",
            file=sys.stderr,
        )
        return 1
    if not settings.postgres_dsn:
        print("adpulse: `adpulse worker` needs ADPULSE_POSTGRES_DSN, the servers' Postgres", file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics, served = observe_worker.multiprocess_metrics(settings.metrics_tenant_labels)
    endpoint = (
        Metrics.serve_registry(served, settings.worker_metrics_listen)
        if settings.worker_metrics_listen
        else None
    )
    if endpoint is not None:
        log.info("worker metrics on http://%s/metrics", endpoint.address)
    observe_worker.count_tasks(metrics)
    traces.setup("adpulse-worker")
    traces.instrument_celery()
    built: list[JobRuntime] = []

    def build() -> JobRuntime:
        runtime = build_worker_runtime(settings, app, metrics)
        built.append(runtime)
        return runtime

    holder = RuntimeHolder(build)
    app = make_app(settings.broker_url, holder, settings.daily_scan_at if beat else None)

    def stop_jobs(**_: Any) -> None:
        # Running jobs end at their next chunk and are queued again, so a warm shutdown is quick.
        for runtime in built:
            runtime.runner.stopping.set()

    signals.worker_shutting_down.connect(stop_jobs, weak=False)
    # A container's health check looks for this file (docker-compose.yml); it is container-local,
    # so scaled workers sharing a volume do not vouch for each other.
    signals.worker_ready.connect(lambda **_: READY_FILE.touch(), weak=False)
    signals.worker_shutting_down.connect(lambda **_: READY_FILE.unlink(missing_ok=True), weak=False)
    signals.worker_process_shutdown.connect(lambda **_: holder.close(), weak=False)
    single_process = settings.effective_clickhouse_dsn.startswith("chdb://")
    worker = app.Worker(
        pool_cls="threads" if single_process else "prefork",
        concurrency=concurrency,
        beat=beat,
        hostname=f"adpulse@{socket.gethostname()}",
        queues=[QUEUE],
        loglevel="INFO",
        schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    worker.start()
    holder.close()
    traces.shutdown()
    if endpoint is not None:
        endpoint.stop()
    return int(worker.exitcode or 0)
