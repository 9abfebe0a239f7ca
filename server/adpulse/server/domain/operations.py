"""Long-running operations: what they are, where they stand, and how a failure is kept.

An operation's whole state lives in Postgres; a task message carries only its id. A worker
advances it slice by slice, recording progress and a checkpoint after each chunk of work, so
any worker can pick it up where the last one stopped.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adpulse.server.domain import errors
from adpulse.server.domain.errors import AdpulseError, FieldViolation, InvalidArgument, NotFound

NAME_PREFIX = "operations/"
_ID = re.compile(r"op-[0-9a-f]{32}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/-]{1,128}")


class OperationKind(enum.Enum):
    IMPORT_FILE = "import_file"
    EXPORT_METRICS = "export_metrics"
    BACKFILL = "backfill"
    DAILY_SCAN = "daily_scan"
    EXPORT_TENANT_DATA = "export_tenant_data"
    DELETE_TENANT_DATA = "delete_tenant_data"


class OperationState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self in _DONE


_DONE = {OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED}


@dataclass(frozen=True)
class Progress:
    """How far an operation got; `rows_total` is 0 when unknown."""

    percent: float = 0.0
    rows_done: int = 0
    rows_total: int = 0
    step: str = ""


class LostClaim(Exception):
    """Another worker took the operation over (this one's hold on it was lost meanwhile)."""


@dataclass
class Internal(AdpulseError):
    """Something unexpected failed; `metadata["incident"]` finds it in the worker's log."""


@dataclass(frozen=True)
class OperationError:
    """A failure as stored with the operation: the error kind's name and its caller-facing parts."""

    kind: str
    message: str
    reason: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    violations: tuple[FieldViolation, ...] = ()

    @classmethod
    def of(cls, error: AdpulseError) -> OperationError:
        violations = tuple(
            FieldViolation(printable(v.field), printable(v.description), v.reason)
            for v in getattr(error, "violations", ())
        )
        metadata = {k: printable(v) for k, v in error.metadata.items()}
        return cls(type(error).__name__, printable(error.message), error.reason, metadata, violations)

    def as_exception(self) -> AdpulseError:
        """The failure as the error it was, so the transport gives it the same status code."""
        kind = _ERROR_KINDS.get(self.kind, Internal)
        if issubclass(kind, InvalidArgument):
            return kind(self.message, self.reason, dict(self.metadata), violations=self.violations)
        return kind(self.message, self.reason, dict(self.metadata))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "reason": self.reason,
            "metadata": dict(self.metadata),
            "violations": [[v.field, v.description, v.reason] for v in self.violations],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationError:
        return cls(
            data["kind"],
            data["message"],
            data["reason"],
            data.get("metadata", {}),
            tuple(FieldViolation(*v) for v in data.get("violations", [])),
        )


_ERROR_KINDS: dict[str, type[AdpulseError]] = {
    kind.__name__: kind
    for kind in (
        errors.InvalidArgument,
        errors.ResourceExhausted,
        errors.AlreadyExists,
        errors.FailedPrecondition,
        errors.NotFound,
        errors.Aborted,
        errors.StorageUnavailable,
        errors.PermissionDenied,
        errors.Cancelled,
        errors.QuotaExceeded,
        Internal,
    )
}


@dataclass(frozen=True)
class Operation:
    """One long-running operation of a tenant.

    `params` is what was asked (JSON), `checkpoint` where the work stands (JSON, written by the
    job after each chunk), `result` what a succeeded operation produced (JSON).
    """

    op_id: str
    tenant: str
    kind: OperationKind
    state: OperationState
    params: Mapping[str, Any]
    progress: Progress
    checkpoint: Mapping[str, Any]
    result: Mapping[str, Any] | None
    error: OperationError | None
    cancel_requested: bool
    recoveries: int
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def name(self) -> str:
        return NAME_PREFIX + self.op_id

    @property
    def done(self) -> bool:
        return self.state.done


@dataclass(frozen=True)
class OperationFilter:
    """Which operations a list shows; None means any."""

    kind: OperationKind | None = None
    state: OperationState | None = None
    done: bool | None = None
    exclude_kind: OperationKind | None = None
    exclude_state: OperationState | None = None


def new_operation_id() -> str:
    return f"op-{uuid.uuid4().hex}"


def operation_id(name: str, field: str = "name") -> str:
    """The id in `operations/{id}`; a malformed name is INVALID_ARGUMENT, so it never reaches SQL."""
    op_id = name.removeprefix(NAME_PREFIX)
    if not name.startswith(NAME_PREFIX) or not _ID.fullmatch(op_id):
        raise InvalidArgument(
            f"{field} {name!r} is not an operation name (operations/op-…)",
            "INVALID_OPERATION_NAME",
            violations=[FieldViolation(field, "expected operations/{id}", "INVALID_OPERATION_NAME")],
        )
    return op_id


def validate_request_id(request_id: str) -> str:
    if request_id and not _REQUEST_ID.fullmatch(request_id):
        raise InvalidArgument(
            "request_id must be 1 to 128 of A-Z a-z 0-9 . _ : / -",
            "INVALID_REQUEST_ID",
            violations=[
                FieldViolation("request_id", "1 to 128 of A-Z a-z 0-9 . _ : / -", "INVALID_REQUEST_ID")
            ],
        )
    return request_id


def not_found(name: str) -> NotFound:
    return NotFound(f"no operation {name!r}", "OPERATION_NOT_FOUND", metadata={"name": name})


_FILTER_TERM = re.compile(r"\s*(kind|state|done)\s*(=|!=)\s*\"?([A-Za-z_]+)\"?\s*", re.IGNORECASE)


def parse_filter(text: str) -> OperationFilter:
    """An AIP-160 subset: terms `kind`, `state` or `done` compared with `=` or `!=`, joined by
    AND; e.g. `kind = import_file AND done = false`. Enum values may carry their proto prefix."""
    found: dict[str, Any] = {}
    for term in (t for t in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE) if t.strip()):
        match = _FILTER_TERM.fullmatch(term)
        value = _filter_value(match) if match else None
        if match is None or value is None:
            raise _bad_filter(f"cannot read {term.strip()!r}")
        name, op = match.group(1).lower(), match.group(2)
        key = name if op == "=" else f"exclude_{name}"
        if key in found or key == "exclude_done":
            raise _bad_filter(f"{name!r} can appear once, with =" if name == "done" else f"{name!r} twice")
        found[key] = value
    return OperationFilter(**found)


def _filter_value(match: re.Match[str]) -> Any:
    name, raw = match.group(1).lower(), match.group(3).lower()
    if name == "done":
        return {"true": True, "false": False}.get(raw)
    enum_type: type[OperationKind] | type[OperationState] = (
        OperationKind if name == "kind" else OperationState
    )
    prefix = "operation_kind_" if name == "kind" else "operation_state_"
    try:
        return enum_type(raw.removeprefix(prefix))
    except ValueError:
        return None


def _bad_filter(problem: str) -> InvalidArgument:
    kinds = ", ".join(k.value for k in OperationKind)
    states = ", ".join(s.value for s in OperationState)
    message = (
        f"filter: {problem}; use kind = ({kinds}), state = ({states}) or done = (true, false), joined by AND"
    )
    return InvalidArgument(
        message, "INVALID_FILTER", violations=[FieldViolation("filter", problem, "INVALID_FILTER")]
    )


MAX_MESSAGE_CHARS = 2000


def printable(text: str) -> str:
    """An error may quote a poison file's bytes (its "header", say): escaped, they stay readable
    to a person and storable in Postgres, which refuses NUL in text and JSON."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= MAX_MESSAGE_CHARS else escaped[: MAX_MESSAGE_CHARS - 1] + "…"
