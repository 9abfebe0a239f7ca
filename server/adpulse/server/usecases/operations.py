"""Starting, watching, cancelling and forgetting long-running operations (AIP-151).

An operation is recorded before its message is sent, so a message can be lost (the broker, or
a worker that took it and died) but an operation cannot: the reconciler sends it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from adpulse.server.domain.access import Scope, require_scope
from adpulse.server.domain.errors import Cancelled, FieldViolation, InvalidArgument
from adpulse.server.domain.operations import (
    Operation,
    OperationError,
    OperationFilter,
    OperationKind,
    not_found,
    validate_request_id,
)
from adpulse.server.ports import FileArea, JobQueue, OperationStore

log = logging.getLogger(__name__)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# A WaitOperation without a timeout waits this long at most, then answers with the state so far.
DEFAULT_WAIT = dt.timedelta(seconds=60)
MAX_WAIT = dt.timedelta(minutes=10)
_EXPORT_SUFFIXES = (".parquet", ".csv", ".zip")
ADMIN_KINDS = {
    OperationKind.EXPORT_TENANT_DATA: Scope.ADMIN,
    OperationKind.DELETE_TENANT_DATA: Scope.ADMIN,
}


class OperationsUseCase:
    def __init__(self, store: OperationStore, queue: JobQueue, files: FileArea) -> None:
        self._store = store
        self._queue = queue
        self._files = files

    def start(
        self, tenant: str, kind: OperationKind, params: Mapping[str, Any], request_id: str = ""
    ) -> Operation:
        """Records the operation and sends it to the workers; a retry with the same request id
        returns the first call's operation and sends nothing."""
        operation, created = self._store.create(tenant, kind, params, validate_request_id(request_id))
        if created:
            try:
                self._queue.enqueue(operation.op_id)
            except Exception:
                # It is recorded as queued: the reconciler sends it once the broker is back.
                log.warning("could not send operation %s to the workers yet", operation.op_id, exc_info=True)
        return operation

    def get(self, tenant: str, op_id: str) -> Operation:
        operation = self._store.get(tenant, op_id)
        if operation is None:
            raise not_found(f"operations/{op_id}")
        return operation

    def list(
        self, tenant: str, where: OperationFilter, offset: int, page_size: int
    ) -> tuple[list[Operation], bool]:
        """One page, newest first, and whether more follow."""
        if page_size < 0:
            raise InvalidArgument(
                "page_size must not be negative",
                "INVALID_PAGE_SIZE",
                violations=[FieldViolation("page_size", "must not be negative", "INVALID_PAGE_SIZE")],
            )
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        found = self._store.find(tenant, where, offset, size + 1)
        return found[:size], len(found) > size

    def cancel(self, tenant: str, op_id: str, scopes: frozenset[Scope]) -> Operation:
        """A queued operation is cancelled at once; a running one after its current chunk. A
        finished one stays as it is."""
        self._require_scope(tenant, op_id, scopes)
        error = OperationError.of(Cancelled("the operation was cancelled on request", "CANCELLED"))
        operation = self._store.request_cancel(tenant, op_id, error)
        if operation is None:
            raise not_found(f"operations/{op_id}")
        return operation

    def delete(self, tenant: str, op_id: str, scopes: frozenset[Scope]) -> None:
        """Forgets a finished operation and removes the file (or archive) it exported, if any."""
        self._require_scope(tenant, op_id, scopes)
        operation = self._store.delete(tenant, op_id)
        if operation is None:
            raise not_found(f"operations/{op_id}")
        if operation.kind in {OperationKind.EXPORT_METRICS, OperationKind.EXPORT_TENANT_DATA}:
            for suffix in _EXPORT_SUFFIXES:
                self._files.export_path(tenant, op_id, suffix).unlink(missing_ok=True)

    def _require_scope(self, tenant: str, op_id: str, scopes: frozenset[Scope]) -> None:
        """Reading an operation is reading; stopping or forgetting one that a scope above
        `read` started (a tenant's data export or deletion) needs that scope too."""
        needed = ADMIN_KINDS.get(self.get(tenant, op_id).kind)
        if needed is not None:
            require_scope(scopes, needed)

    def wait(
        self,
        tenant: str,
        op_id: str,
        timeout: dt.timedelta | None,
        still_wanted: Callable[[], bool] = lambda: True,
    ) -> Operation:
        """The operation once done, or as it stands when `timeout` (default 60 s, at most
        10 min) has passed or the caller went away."""
        limit = min(timeout if timeout is not None else DEFAULT_WAIT, MAX_WAIT)
        if limit < dt.timedelta(0):
            raise InvalidArgument(
                "timeout must not be negative",
                "INVALID_TIMEOUT",
                violations=[FieldViolation("timeout", "must not be negative", "INVALID_TIMEOUT")],
            )
        deadline = time.monotonic() + limit.total_seconds()
        pause = 0.05
        while True:
            operation = self.get(tenant, op_id)
            left = deadline - time.monotonic()
            if operation.done or left <= 0 or not still_wanted():
                return operation
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)
