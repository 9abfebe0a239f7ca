"""Failures a use case reports; the transport turns each kind into one gRPC status code.

Messages are written for the caller: they never carry SQL, file paths or tracebacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of the request, e.g. `batch.rows[12].cost`."""

    field: str
    description: str
    reason: str = ""


@dataclass
class AdpulseError(Exception):
    """Base of the failures a caller can act on.

    `reason` is a stable UPPER_SNAKE code (AIP-193 ErrorInfo.reason); `metadata` adds facts
    such as the batch id.
    """

    message: str
    reason: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass
class InvalidArgument(AdpulseError):
    """The request itself is wrong; resending it unchanged fails again."""

    violations: Sequence[FieldViolation] = ()


@dataclass
class AlreadyExists(AdpulseError):
    """The request names something that exists with other content."""


@dataclass
class NotFound(AdpulseError):
    """The request names something that does not exist."""


@dataclass
class FailedPrecondition(AdpulseError):
    """The system is not in a state where the request can run."""


@dataclass
class ResourceExhausted(InvalidArgument):
    """The request is over a size limit; a smaller one would do."""


@dataclass
class Aborted(AdpulseError):
    """A concurrency check failed (e.g. a compare-and-set); re-read and retry."""


@dataclass
class StorageUnavailable(AdpulseError):
    """A store could not be reached or failed transiently; retrying may succeed."""


@dataclass
class Unauthenticated(AdpulseError):
    """The call carries no valid credential: no key, an unknown one, or an expired or revoked one."""


class ShuttingDown(StorageUnavailable):
    """This server is stopping: the caller should go on with another (UNAVAILABLE, RetryInfo)."""


@dataclass
class PermissionDenied(AdpulseError):
    """The caller may not touch what the request names."""


@dataclass
class Cancelled(AdpulseError):
    """The work was cancelled on request."""


@dataclass
class StorageRejected(InvalidArgument):
    """A store refused the data for good (a value outside its range, one of its own size
    limits): the same request fails again, so it is never answered as retryable."""


@dataclass
class QuotaExceeded(AdpulseError):
    """A tenant's quota is used up (RESOURCE_EXHAUSTED with a QuotaFailure naming `subject`,
    which defaults to the `quota` metadata): it has room again once it frees some."""

    subject: str = ""

    def __post_init__(self) -> None:
        self.subject = self.subject or self.metadata.get("quota", "")


@dataclass
class Overloaded(QuotaExceeded):
    """A rate or concurrency quota is used up for now: the same request succeeds later
    (RESOURCE_EXHAUSTED with RetryInfo and a QuotaFailure naming `subject`)."""

    retry_seconds: float = 1.0


@dataclass
class DeadlineExceeded(AdpulseError):
    """The call ran out of its time (a stream idle too long)."""
