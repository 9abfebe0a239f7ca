"""Long calls (streams and WaitOperation) may take only part of the handler threads.

grpcio's sync server gives each call one handler thread for its whole life. A stream lives as
long as its client keeps it open, so without a cap 32 idle streams took every thread and
health answered DEADLINE_EXCEEDED. This step counts the long calls in flight, in total and per
tenant, and refuses one over either cap with RESOURCE_EXHAUSTED and RetryInfo before it takes a
thread for long: the total cap is below the thread count, so unary calls (health, queries,
settings) always find a free thread. A stream idle for `stream_idle_seconds` is ended by the
draining reader (see `draining.py`), and WaitOperation waits at most `max_wait_seconds`, so a
thread a long call holds is given back in bounded time.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from adpulse.server.domain.errors import Overloaded
from adpulse.server.transport.calls import Call

WAIT_OPERATION = "/google.longrunning.Operations/WaitOperation"
_ENTERED = "long_call"


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


class StreamLimits:
    """The pipeline step that admits a long call, or refuses it over a cap."""

    def __init__(self, methods: frozenset[str], max_total: int, max_per_tenant: int) -> None:
        self._methods = methods
        self._max_total = max_total
        self._max_per_tenant = max_per_tenant
        self._lock = threading.Lock()
        self._total = 0
        self._by_tenant: Counter[str] = Counter()

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        if call.method not in self._methods:
            return
        tenant = call.tenant or ""
        with self._lock:
            if self._total >= self._max_total:
                raise _refusal("streams", self._max_total, "on this server")
            if tenant and self._by_tenant[tenant] >= self._max_per_tenant:
                raise _refusal("streams_per_tenant", self._max_per_tenant, f"for tenant {tenant!r}")
            self._total += 1
            self._by_tenant[tenant] += 1
        call.facts[_ENTERED] = tenant

    def exit(self, call: Call) -> None:
        tenant = call.facts.pop(_ENTERED, None)
        if tenant is None:
            return
        with self._lock:
            self._total -= 1
            self._by_tenant[tenant] -= 1
            if self._by_tenant[tenant] <= 0:
                del self._by_tenant[tenant]


def _refusal(subject: str, limit: int, where: str) -> Overloaded:
    return Overloaded(
        f"too many open streams and waits {where} (at most {limit}); retry after one has ended",
        "TOO_MANY_STREAMS",
        metadata={"limit": str(limit)},
        subject=subject,
        retry_seconds=1,
    )
