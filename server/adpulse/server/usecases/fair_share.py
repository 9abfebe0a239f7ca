"""Fair share of ingest: a token bucket of rows per tenant, and the buckets the call limits of
the gRPC pipeline (transport/rate_limits.py) are made of.

Here rather than in the transport because a worker process applies the row quota to the files
it imports too, and a worker knows nothing of gRPC.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adpulse.server.domain.errors import Overloaded


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


class RowQuota:
    """The ingest use case's row quota: a bucket of rows per tenant."""

    def __init__(self, tenant_rows: Rate, overrides: Mapping[str, Rate] | None = None) -> None:
        overrides = dict(overrides or {})
        self._rows_by_tenant = Buckets(lambda t: overrides.get(t, tenant_rows))

    def take_rows(self, tenant: str, rows: int) -> None:
        """Refuses a batch of `rows` over the tenant's ingest-rows rate (nothing of it stored)."""
        wait = self._rows_by_tenant.take(tenant, rows)
        if wait:
            raise over_rate(
                "ingest_rows_per_tenant",
                f"tenant {tenant!r} is over its ingest rate; send the batch again later "
                "(with its stream_id a stream resumes after its last committed batch)",
                wait,
            )


def over_rate(subject: str, message: str, wait: float) -> Overloaded:
    """The refusal of a bucket short of tokens for `wait` seconds."""
    return Overloaded(
        f"{message}; retry in {wait:.2f} s",
        "RATE_LIMITED",
        metadata={"retry_seconds": f"{wait:.3f}"},
        subject=subject,
        retry_seconds=wait,
    )
