"""Fair share: token buckets per API key and per tenant, for calls and for ingested rows.

Each tenant has a bucket of calls (refilled at `tenant_requests_per_second`, holding up to
`tenant_request_burst`) and one of ingest rows; each tenant key has its own bucket of calls
too, so one runaway job cannot spend its tenant's whole share. Operator keys act for many
tenants and are held only by the bucket of the tenant they act for. A call over a bucket is
refused before any work with RESOURCE_EXHAUSTED, RetryInfo (when the bucket has the tokens
again) and QuotaFailure (which bucket). Health and reflection carry no tenant and pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc

from adpulse.server.domain.errors import Overloaded
from adpulse.server.settings import Settings
from adpulse.server.transport.calls import Call


@dataclass(frozen=True)
class Rate:
    """`per_second` tokens a second, at most `burst` saved up."""

    per_second: float
    burst: float


class Buckets:
    """Token buckets by key, created full on first use; thread-safe."""

    def __init__(self, rate_of: Callable[[str], Rate], clock: Callable[[], float] = time.monotonic) -> None:
        self._rate_of = rate_of
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str, tokens: float) -> float:
        """Takes `tokens` from `key`'s bucket and answers 0, or takes nothing and answers the
        seconds until the bucket holds them (a request above the burst can never pass whole:
        it waits for a full bucket, then passes and leaves the bucket in debt)."""
        rate = self._rate_of(key)
        now = self._clock()
        with self._lock:
            held, when = self._state.get(key, (rate.burst, now))
            held = min(rate.burst, held + (now - when) * rate.per_second)
            needed = min(tokens, rate.burst)
            if held < needed:
                self._state[key] = (held, now)
                return (needed - held) / rate.per_second
            self._state[key] = (held - tokens, now)
            return 0.0


class RateLimits:
    """The pipeline step (calls) and the ingest use case's row quota (rows)."""

    def __init__(
        self,
        tenant_requests: Rate,
        key_requests: Rate,
        tenant_rows: Rate,
        overrides: Mapping[str, tuple[Rate, Rate]] | None = None,
    ) -> None:
        overrides = dict(overrides or {})
        self._calls_by_tenant = Buckets(lambda t: overrides[t][0] if t in overrides else tenant_requests)
        self._calls_by_key = Buckets(lambda _: key_requests)
        self._rows_by_tenant = Buckets(lambda t: overrides[t][1] if t in overrides else tenant_rows)

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        if call.tenant is None:
            return
        wait = self._calls_by_tenant.take(call.tenant, 1)
        if wait:
            raise _over("requests_per_tenant", f"tenant {call.tenant!r} is over its request rate", wait)
        caller = call.caller
        if caller is not None and not caller.is_operator:
            wait = self._calls_by_key.take(caller.key_id, 1)
            if wait:
                raise _over("requests_per_key", f"API key {caller.key_id} is over its request rate", wait)

    def exit(self, call: Call) -> None:
        """Calls are counted when they start."""

    def take_rows(self, tenant: str, rows: int) -> None:
        """Refuses a batch of `rows` over the tenant's ingest-rows rate (nothing of it stored)."""
        wait = self._rows_by_tenant.take(tenant, rows)
        if wait:
            raise _over(
                "ingest_rows_per_tenant",
                f"tenant {tenant!r} is over its ingest rate; send the batch again later "
                "(with its stream_id a stream resumes after its last committed batch)",
                wait,
            )


def rate_limits(settings: Settings) -> RateLimits:
    """The buckets the settings describe."""
    return RateLimits(
        Rate(settings.tenant_requests_per_second, settings.tenant_request_burst),
        Rate(settings.key_requests_per_second, settings.key_request_burst),
        Rate(settings.tenant_rows_per_second, settings.tenant_row_burst),
        {
            tenant: (Rate(requests, 2 * requests), Rate(rows, 2 * rows))
            for tenant, requests, rows in settings.tenant_rate_overrides
        },
    )


def _over(subject: str, message: str, wait: float) -> Overloaded:
    return Overloaded(
        f"{message}; retry in {wait:.2f} s",
        "RATE_LIMITED",
        metadata={"retry_seconds": f"{wait:.3f}"},
        subject=subject,
        retry_seconds=wait,
    )
