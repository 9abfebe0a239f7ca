"""Starting a tenant's data export and deletion, and its retention setting.

A deletion cannot be undone, so it is started only with the tenant's name typed back as
`confirm`; the key that asked is kept with the operation, for the audit event the job writes.
"""

from __future__ import annotations

from collections.abc import Iterator

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.operations import Operation, OperationKind
from adpulse.server.ports import TenantSettingsStore
from adpulse.server.usecases.jobs.export_metrics import ExportDownloads
from adpulse.server.usecases.operations import OperationsUseCase

# A hundred years: longer is a typo, not a policy.
MAX_RETENTION_DAYS = 36600


class TenantDataUseCase:
    def __init__(
        self, operations: OperationsUseCase, settings: TenantSettingsStore, downloads: ExportDownloads
    ) -> None:
        self._operations = operations
        self._settings = settings
        self._downloads = downloads

    def start_export(self, tenant: str, key_id: str, request_id: str) -> Operation:
        return self._operations.start(
            tenant, OperationKind.EXPORT_TENANT_DATA, {"key_id": key_id}, request_id
        )

    def download(self, tenant: str, op_id: str, offset: int) -> Iterator[bytes]:
        """The archive of a finished export, from byte `offset` on."""
        return self._downloads.read(self._operations.get(tenant, op_id), offset)

    def start_delete(self, tenant: str, key_id: str, confirm: str, request_id: str) -> Operation:
        if confirm != tenant:
            raise InvalidArgument(
                f"confirm must be the tenant's name, {tenant!r}, typed back: its data is deleted for good",
                "CONFIRMATION_MISMATCH",
                violations=[FieldViolation("confirm", f"must equal {tenant!r}", "CONFIRMATION_MISMATCH")],
            )
        return self._operations.start(
            tenant, OperationKind.DELETE_TENANT_DATA, {"key_id": key_id}, request_id
        )

    def retention_days(self, tenant: str) -> int:
        return self._settings.retention_days(tenant)

    def set_retention_days(self, tenant: str, days: int) -> None:
        self._settings.set_retention_days(tenant, check_retention_days(days))


def check_retention_days(days: int) -> int:
    """`days` if it is a retention the daily scan can apply; INVALID_ARGUMENT if not."""
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise InvalidArgument(
            f"settings.retention_days must be 0 (keep for ever) to {MAX_RETENTION_DAYS}",
            "INVALID_RETENTION",
            violations=[
                FieldViolation("settings.retention_days", f"0 to {MAX_RETENTION_DAYS}", "INVALID_RETENTION")
            ],
        )
    return days
