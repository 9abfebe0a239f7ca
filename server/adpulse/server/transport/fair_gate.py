"""Unary calls running at once, shared out tenant by tenant.

grpcio's sync server runs every call on a thread of its own, and the interpreter runs one
thread at a time: with a flooding tenant's eight calls running beside a quiet tenant's one,
the quiet call got about a ninth of the interpreter and its p99 rose 4-8x. The gate lets
`slots` unary calls run at once. A call beyond them waits, off the interpreter, for a slot, and
a freed slot goes to the waiting tenant with the fewest calls running (the longest waiting of
them first), so a tenant with one call waiting is served next however many calls another has
queued. A call waits at most `max_wait_seconds` (less if its deadline comes first); then it is
refused RESOURCE_EXHAUSTED `SERVER_BUSY` with RetryInfo, as nothing came free in that time.

Streams and waits are not gated: they live as long as their client keeps them, and have their
own caps (`stream_limits.py`). Health and reflection carry no tenant and are never held.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Callable

import grpc

from adpulse.server.domain.errors import Overloaded
from adpulse.server.transport.calls import Call


class _Waiter:
    __slots__ = ("granted", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.granted = threading.Event()


class FairGate:
    """`slots` places, handed from one call to the next tenant by tenant."""

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._running: Counter[str] = Counter()
        self._waiting: dict[str, deque[_Waiter]] = {}
        self._seq = itertools.count()

    def acquire(self, tenant: str, timeout: float) -> bool:
        """Takes a slot for `tenant`, waiting up to `timeout` seconds; False if none came."""
        with self._lock:
            # A released slot is handed to a waiter at once, so a free one means nobody waits.
            if self._free > 0:
                self._free -= 1
                self._running[tenant] += 1
                return True
            waiter = _Waiter(next(self._seq))
            self._waiting.setdefault(tenant, deque()).append(waiter)
        if waiter.granted.wait(timeout):
            return True
        with self._lock:
            if waiter.granted.is_set():  # handed a slot as the wait ran out
                return True
            queue = self._waiting[tenant]
            queue.remove(waiter)
            if not queue:
                del self._waiting[tenant]
        return False

    def release(self, tenant: str) -> None:
        with self._lock:
            self._running[tenant] -= 1
            if self._running[tenant] <= 0:
                del self._running[tenant]
            if not self._waiting:
                self._free += 1
                return
            chosen = min(self._waiting, key=lambda t: (self._running[t], self._waiting[t][0].seq))
            queue = self._waiting[chosen]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[chosen]
            self._running[chosen] += 1
            waiter.granted.set()

    def occupancy(self) -> tuple[int, int]:
        """(calls running, calls waiting), as the operator's gauges show them."""
        with self._lock:
            return sum(self._running.values()), sum(len(q) for q in self._waiting.values())


class RunningCalls:
    """The pipeline step that holds a unary call until the gate gives it a slot."""

    def __init__(
        self, gate: FairGate, gated: Callable[[str], bool], slots: int, max_wait_seconds: float
    ) -> None:
        self.gate = gate
        self._gated = gated
        self._slots = slots
        self._max_wait = max_wait_seconds

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        tenant = call.tenant
        if not tenant or not self._gated(call.method):
            return
        remaining = context.time_remaining()
        wait = self._max_wait if remaining is None else max(0.0, min(self._max_wait, remaining))
        if not self.gate.acquire(tenant, wait):
            raise Overloaded(
                f"the server is busy: {self._slots} calls were running and none ended within "
                f"{wait:.1f} s; retry after a short wait",
                "SERVER_BUSY",
                metadata={"limit": str(self._slots)},
                subject="running_calls",
                retry_seconds=1,
            )
        call.facts["running"] = tenant

    def exit(self, call: Call) -> None:
        tenant = call.facts.pop("running", None)
        if isinstance(tenant, str):
            self.gate.release(tenant)


def running_calls(long: frozenset[str], slots: int, max_wait_seconds: float) -> RunningCalls:
    """The gate over every unary call (`long` lists the streams and waits it lets pass)."""
    return RunningCalls(FairGate(slots), lambda method: method not in long, slots, max_wait_seconds)
