"""Runs one slice of an operation: claim it, let its job advance it, record how that ended.

A job works in chunks and reports progress plus a checkpoint after each; the report also says
whether a cancel was requested. A slice ends when the job finishes, fails, is cancelled, or
has run `slice_seconds` (then the operation is queued again to continue where it stands, so
no task holds a broker message anywhere near RabbitMQ's consumer timeout).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from adpulse.server.domain.errors import AdpulseError, Cancelled, StorageUnavailable
from adpulse.server.domain.operations import (
    Internal,
    LostClaim,
    Operation,
    OperationError,
    OperationKind,
    OperationState,
    Progress,
)
from adpulse.server.ports import OperationClaim, OperationStore

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DONE = "done"  # finished: succeeded, failed or cancelled
    CONTINUE = "continue"  # the slice ended; send the operation again
    RETRY = "retry"  # a store failed transiently; send it again after a backoff
    SKIPPED = "skipped"  # done already, gone, or a live worker has it


@dataclass
class JobContext:
    """What a job sees of its slice."""

    claim: OperationClaim
    deadline: float
    stopping: threading.Event
    progress: Progress = field(default_factory=Progress)

    @property
    def operation(self) -> Operation:
        return self.claim.operation

    def report(self, progress: Progress, checkpoint: Mapping[str, Any]) -> None:
        """Records progress and the checkpoint; raises Cancelled when a cancel was requested."""
        self.progress = progress
        if self.claim.report(progress, checkpoint):
            raise Cancelled("the operation was cancelled on request", "CANCELLED")

    def out_of_time(self) -> bool:
        """The slice is used up, or the process is stopping: end it at this chunk boundary."""
        return time.monotonic() >= self.deadline or self.stopping.is_set()


class Job(Protocol):
    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        """Advances the operation from its checkpoint; its result when finished, None when the
        slice ended first. Failures are AdpulseErrors; StorageUnavailable is retried."""


class OperationRunner:
    def __init__(
        self,
        store: OperationStore,
        *,
        jobs: Mapping[OperationKind, Job],
        owner: str,
        slice_seconds: float,
        max_recoveries: int,
        heartbeat_seconds: float,
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._owner = owner
        self._slice_seconds = slice_seconds
        self._max_recoveries = max_recoveries
        self._heartbeat_seconds = heartbeat_seconds
        self.stopping = threading.Event()

    def run(self, op_id: str) -> Outcome:
        with self._store.claim(op_id, self._owner) as claim:
            if claim is None:
                log.info("operation %s: nothing to do here (done, gone, or running elsewhere)", op_id)
                return Outcome.SKIPPED
            operation = claim.operation
            log.info(
                "operation %s (%s): running, recoveries %d", op_id, operation.kind.value, operation.recoveries
            )
            if operation.cancel_requested:
                claim.finish(OperationState.CANCELLED, operation.progress, error=_cancelled())
                return Outcome.DONE
            if operation.recoveries > self._max_recoveries:
                error = Internal(
                    f"the worker running the operation stopped {operation.recoveries} times before it "
                    "finished; it is not tried again",
                    "WORKER_LOST",
                    metadata={"recoveries": str(operation.recoveries)},
                )
                claim.finish(OperationState.FAILED, operation.progress, error=OperationError.of(error))
                return Outcome.DONE
            return self._advance(claim)

    def give_up(self, op_id: str, error: AdpulseError) -> None:
        """Fails an operation whose retries ran out."""
        with self._store.claim(op_id, self._owner) as claim:
            if claim is not None:
                log.warning("operation %s: giving up: %s", op_id, error.message)
                claim.finish(OperationState.FAILED, claim.operation.progress, error=OperationError.of(error))

    def _advance(self, claim: OperationClaim) -> Outcome:
        operation = claim.operation
        ctx = JobContext(claim, time.monotonic() + self._slice_seconds, self.stopping, operation.progress)
        beating = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(claim, beating), name="operation-heartbeat", daemon=True
        )
        beat.start()
        try:
            result = self._jobs[operation.kind].run(ctx)
        except LostClaim:
            log.warning("operation %s: another worker took it over; stopping here", operation.op_id)
            return Outcome.SKIPPED
        except Cancelled as err:
            claim.finish(OperationState.CANCELLED, ctx.progress, error=OperationError.of(err))
            return Outcome.DONE
        except StorageUnavailable as err:
            log.warning("operation %s: transient storage failure, will retry: %s", operation.op_id, err)
            claim.requeue("waiting to retry after a storage failure")
            return Outcome.RETRY
        except AdpulseError as err:
            log.info("operation %s failed: %s", operation.op_id, err.message)
            claim.finish(OperationState.FAILED, ctx.progress, error=OperationError.of(err))
            return Outcome.DONE
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            # Anything else (a bug, a kernel panic) would fail again: fail the operation, once.
            incident = uuid.uuid4().hex[:12]
            log.exception("operation %s: internal error, incident %s", operation.op_id, incident)
            error = Internal(
                f"internal error (incident {incident}); the worker's log has the details",
                "INTERNAL",
                metadata={"incident": incident},
            )
            claim.finish(OperationState.FAILED, ctx.progress, error=OperationError.of(error))
            return Outcome.DONE
        finally:
            beating.set()
            beat.join()
        if result is None:
            claim.requeue(ctx.progress.step)
            return Outcome.CONTINUE
        done = Progress(100.0, ctx.progress.rows_done, ctx.progress.rows_total, "done")
        claim.finish(OperationState.SUCCEEDED, done, result=result)
        log.info("operation %s succeeded", operation.op_id)
        return Outcome.DONE

    def _beat(self, claim: OperationClaim, done: threading.Event) -> None:
        while not done.wait(self._heartbeat_seconds):
            try:
                claim.heartbeat()
            except Exception:
                log.warning("operation heartbeat failed", exc_info=True)


def _cancelled() -> OperationError:
    return OperationError.of(Cancelled("the operation was cancelled on request", "CANCELLED"))
