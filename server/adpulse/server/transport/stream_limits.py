"""Calls in flight may take only part of the handler threads: long calls in total and per
tenant, every other call per tenant.

grpcio's sync server gives each call one handler thread for its whole life. A stream lives as
long as its client keeps it open, so without a cap 32 idle streams took every thread and
health answered DEADLINE_EXCEEDED. `long_calls` counts the long calls in flight, in total and
per tenant, and refuses one over either cap with RESOURCE_EXHAUSTED and RetryInfo before it
takes a thread for long: the total cap is below the thread count, so unary calls (health,
queries, settings) always find a free thread. A stream idle for `stream_idle_seconds` is ended
by the draining reader (see `draining.py`), and WaitOperation waits at most `max_wait_seconds`,
so a thread a long call holds is given back in bounded time.

`tenant_calls` caps every other call of one tenant in flight. A token bucket alone let a
flooding tenant keep as many calls running as it had clients, each competing for the cores
with the other tenants' calls; a cap on what runs at once bounds its share of the server
whatever its rate, and its refusal costs a lock and a counter.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from adpulse.server.domain.errors import Overloaded
from adpulse.server.transport.calls import Call

WAIT_OPERATION = "/google.longrunning.Operations/WaitOperation"


def long_methods(services: Iterable[ServiceDescriptor]) -> frozenset[str]:
    """The methods of `services` that stream in either direction, and WaitOperation."""
    return frozenset(
        {
            f"/{service.full_name}/{method.name}"
            for service in services
            for method in service.methods
            if method.client_streaming or method.server_streaming
        }
        | {WAIT_OPERATION}
    )


class InFlightLimits:
    """The pipeline step that admits a call it counts, or refuses it over a cap."""

    def __init__(
        self,
        counts: Callable[[str], bool],
        max_per_tenant: int,
        max_total: int | None,
        refusal: Callable[[str, int, str], Overloaded],
        fact: str,
    ) -> None:
        self._counts = counts
        self._max_per_tenant = max_per_tenant
        self._max_total = max_total
        self._refusal = refusal
        # The call fact that marks a call as counted (also in the access log).
        self._fact = fact
        self._lock = threading.Lock()
        self._total = 0
        self._by_tenant: Counter[str] = Counter()

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        tenant = call.tenant or ""
        if not tenant and self._max_total is None:
            return  # health and reflection: no tenant to hold to a share
        if not self._counts(call.method):
            return
        with self._lock:
            if self._max_total is not None and self._total >= self._max_total:
                raise self._refusal("", self._max_total, "on this server")
            if tenant and self._by_tenant[tenant] >= self._max_per_tenant:
                raise self._refusal("_per_tenant", self._max_per_tenant, f"for tenant {tenant!r}")
            self._total += 1
            self._by_tenant[tenant] += 1
        call.facts[self._fact] = tenant

    def exit(self, call: Call) -> None:
        tenant = call.facts.pop(self._fact, None)
        if not isinstance(tenant, str):
            return
        with self._lock:
            self._total -= 1
            self._by_tenant[tenant] -= 1
            if self._by_tenant[tenant] <= 0:
                del self._by_tenant[tenant]


def long_calls(methods: frozenset[str], max_total: int, max_per_tenant: int) -> InFlightLimits:
    """Streams and waits open at once, in total and per tenant."""
    refusal = Refusal("TOO_MANY_STREAMS", "open streams and waits", "streams", "one has ended", 1)
    return InFlightLimits(methods.__contains__, max_per_tenant, max_total, refusal, "long_call")


def tenant_calls(long: frozenset[str], max_per_tenant: int) -> InFlightLimits:
    """Every other call of one tenant running at once."""
    # A unary call ends within its query's time; a short wait finds a slot again.
    refusal = Refusal("TOO_MANY_CALLS", "calls running at once", "concurrent_calls", "one has answered", 0.1)
    return InFlightLimits(lambda method: method not in long, max_per_tenant, None, refusal, "slot")


@dataclass(frozen=True)
class Refusal:
    """What an over-cap call is told: RESOURCE_EXHAUSTED `reason`, QuotaFailure `subject`."""

    reason: str
    what: str
    subject: str
    retry_after: str
    retry_seconds: float

    def __call__(self, scope: str, limit: int, where: str) -> Overloaded:
        return Overloaded(
            f"too many {self.what} {where} (at most {limit}); retry after {self.retry_after}",
            self.reason,
            metadata={"limit": str(limit)},
            subject=f"{self.subject}{scope}",
            retry_seconds=self.retry_seconds,
        )
