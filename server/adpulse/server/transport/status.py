"""AIP-193 errors: one status code per failure kind, ErrorInfo always, BadRequest for bad input.

Unexpected failures (a bug, a kernel panic) answer INTERNAL with an incident id that is also in
the server log next to the traceback; the client never sees the traceback, SQL or paths.
"""

from __future__ import annotations

import logging
import uuid

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from adpulse.server.domain.errors import (
    Aborted,
    AdpulseError,
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Overloaded,
    PermissionDenied,
    QuotaExceeded,
    ResourceExhausted,
    StorageUnavailable,
    Unauthenticated,
)

log = logging.getLogger(__name__)
DOMAIN = "adpulse.dev"
# Details travel in a trailer; clients refuse trailers over 8 KiB by default, so long lists of
# violations are cut to fit and the message says how many there were.
_MAX_DETAILS_BYTES = 6 * 1024
_CODES: dict[type[AdpulseError], int] = {
    InvalidArgument: code_pb2.INVALID_ARGUMENT,
    ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    AlreadyExists: code_pb2.ALREADY_EXISTS,
    NotFound: code_pb2.NOT_FOUND,
    Aborted: code_pb2.ABORTED,
    FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    StorageUnavailable: code_pb2.UNAVAILABLE,
    PermissionDenied: code_pb2.PERMISSION_DENIED,
    Unauthenticated: code_pb2.UNAUTHENTICATED,
    Cancelled: code_pb2.CANCELLED,
    QuotaExceeded: code_pb2.RESOURCE_EXHAUSTED,
    DeadlineExceeded: code_pb2.DEADLINE_EXCEEDED,
}


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def status_of(error: AdpulseError) -> status_pb2.Status:
    code = next((_CODES[kind] for kind in type(error).__mro__ if kind in _CODES), code_pb2.INTERNAL)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=dict(error.metadata))
    status = status_pb2.Status(code=code, message=error.message, details=[_pack(info)])
    if isinstance(error, StorageUnavailable):
        status.details.append(
            _pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1)))
        )
    if isinstance(error, Overloaded):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(int(error.retry_seconds * 1e9), 1_000_000))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    if isinstance(error, QuotaExceeded):
        failure = error_details_pb2.QuotaFailure.Violation(subject=error.subject, description=error.message)
        status.details.append(_pack(error_details_pb2.QuotaFailure(violations=[failure])))
    if isinstance(error, InvalidArgument) and error.violations:
        bad = error_details_pb2.BadRequest()
        size = status.ByteSize()
        for violation in error.violations:
            entry = error_details_pb2.BadRequest.FieldViolation(
                field=violation.field, description=violation.description, reason=violation.reason
            )
            size += entry.ByteSize() + 8
            if size > _MAX_DETAILS_BYTES:
                status.message += (
                    f" ({len(bad.field_violations)} of {len(error.violations)} violations listed)"
                )
                break
            bad.field_violations.append(entry)
        status.details.append(_pack(bad))
    return status


def with_request_info(status: status_pb2.Status, request_id: str) -> status_pb2.Status:
    """Adds the call's request id (AIP-193 RequestInfo), for a support request to quote."""
    if request_id:
        status.details.append(_pack(error_details_pb2.RequestInfo(request_id=request_id)))
    return status


def internal_status(exc: BaseException) -> status_pb2.Status:
    incident = uuid.uuid4().hex[:12]
    log.error("internal error, incident %s", incident, exc_info=exc)
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=DOMAIN, metadata={"incident": incident})
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error (incident {incident}); the server log has the details",
        details=[_pack(info)],
    )
