"""The runtime that runs operations and delivers alerts, the same in a server and a worker."""

from __future__ import annotations

from collections.abc import Callable

from adpulse.server.domain.operations import OperationKind
from adpulse.server.settings import Settings
from adpulse.server.storage.secret_box import SecretBox
from adpulse.server.storage.webhook_http import HttpWebhookSender
from adpulse.server.usecases.alerts.deliver import DeliveryRunner, RetryPolicy
from adpulse.server.usecases.jobs.derive import (
    BackfillJob,
    CampaignRollupStep,
    DailyScanJob,
    DayRangeStep,
    InsightsStep,
)
from adpulse.server.usecases.jobs.export_metrics import ExportMetricsJob
from adpulse.server.usecases.jobs.import_file import ImportFileJob
from adpulse.server.usecases.jobs.runner import Job, OperationRunner
from adpulse.server.usecases.jobs.schedule import DailyScanScheduler
from adpulse.server.usecases.jobs.tenant_data import DeleteTenantDataJob, ExportTenantDataJob, RetentionSweep
from adpulse.server.usecases.operations import OperationsUseCase
from adpulse.server.wiring.core import Core, address_policy, now
from adpulse.server.worker.celery_app import JobRuntime


def steps(core: Core) -> dict[str, DayRangeStep]:
    """Steps of backfills and daily scans, in the order they run: the rollup first, so the
    insights read the re-derived days."""
    day_steps: tuple[DayRangeStep, ...] = (
        CampaignRollupStep(core.rollups),
        InsightsStep(core.insights),
    )
    return {step.name: step for step in day_steps}


def runtime(
    settings: Settings,
    core: Core,
    operations: OperationsUseCase,
    owner: str,
    *,
    close: Callable[[], None],
    box: SecretBox | None,
) -> JobRuntime:
    by_name = steps(core)
    jobs: dict[OperationKind, Job] = {
        OperationKind.IMPORT_FILE: ImportFileJob(core.ingest, core.files, core.operations),
        OperationKind.EXPORT_METRICS: ExportMetricsJob(
            core.kernel, core.facts, core.tenant_settings, core.files, settings.export_part_rows
        ),
        OperationKind.BACKFILL: BackfillJob(by_name),
        OperationKind.DAILY_SCAN: DailyScanJob(
            by_name,
            core.facts,
            settings.restatement,
            RetentionSweep(
                core.tenant_facts,
                core.rollups,
                core.tenant_settings,
                core.versions,
                core.files,
                settings.file_expiry_days,
                now,
            ),
        ),
        OperationKind.EXPORT_TENANT_DATA: ExportTenantDataJob(
            core.tenant_rows, core.tenant_facts, core.files, now
        ),
        OperationKind.DELETE_TENANT_DATA: DeleteTenantDataJob(
            core.tenant_rows, core.tenant_facts, core.files, core.versions, core.audit_log.append
        ),
    }
    runner = OperationRunner(
        core.operations,
        jobs=jobs,
        owner=owner,
        slice_seconds=settings.operation_slice_seconds,
        max_recoveries=settings.operation_max_recoveries,
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    scheduler = (
        DailyScanScheduler(operations, core.operations, settings.daily_scan_at)
        if settings.daily_scan_at
        else None
    )
    deliveries = (
        DeliveryRunner(
            core.alerts,
            box,
            HttpWebhookSender(settings.alert_timeout_seconds, address_policy(settings).allowed_networks),
            core.alert_queue,
            policy=address_policy(settings),
            retries=RetryPolicy(
                settings.alert_max_attempts,
                settings.alert_retry_base_seconds,
                settings.alert_retry_cap_seconds,
            ),
            timeout_seconds=settings.alert_timeout_seconds,
            now=now,
        )
        if box
        else None
    )
    return JobRuntime(runner, scheduler, settings.job_max_retries, close, alerts=deliveries)
