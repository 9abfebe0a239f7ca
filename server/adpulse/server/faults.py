"""Fault injection for tests, switched on only by ADPULSE_FAULTS (comma-separated names, each
optionally `@N`, the 1-based call it hits; default the first).

- `kernel_panic`: every batch parse panics inside the Rust kernel, to prove a panic answers
  INTERNAL instead of hanging the client.
- `fact_insert_fails_before@N`: the Nth fact insert fails before writing anything.
- `fact_insert_fails_after@N`: the Nth fact insert writes its rows, then fails, as if the
  store had died before confirming.
- `fact_insert_stalls_after@N`: the Nth fact insert writes its rows, logs
  `injected fault: insert N written, stalling`, and never returns, so a test can kill the
  process exactly between storing a batch and committing it to the ledger.
- `fact_insert_delay_ms@MS`: every fact insert first waits MS milliseconds, so a long job
  stays long enough for a test to act on it halfway.
- `fact_query_delay_ms@MS`: every grouped-sums read (QueryMetrics and the analytics) first
  waits MS milliseconds, so a test can hold calls in flight.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from adpulse.server.domain.errors import StorageUnavailable
from adpulse.server.ports import FactStore, Kernel

log = logging.getLogger(__name__)
KNOWN = frozenset(
    {
        "kernel_panic",
        "fact_insert_fails_before",
        "fact_insert_fails_after",
        "fact_insert_stalls_after",
        "fact_insert_delay_ms",
        "fact_query_delay_ms",
    }
)


def parse(faults: frozenset[str]) -> dict[str, int]:
    """Fault name -> the call it hits."""
    parsed = {}
    for fault in faults:
        name, _, nth = fault.partition("@")
        if name not in KNOWN or (nth and not nth.isdigit()):
            raise ValueError(f"unknown ADPULSE_FAULTS entry {fault!r}; known: {', '.join(sorted(KNOWN))}")
        parsed[name] = int(nth or 1)
    return parsed


class PanickingKernel:
    """The real kernel, except that parsing panics in Rust."""

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        self.SOURCES = kernel.SOURCES
        self.aggregate = kernel.aggregate
        self.check_source_options = kernel.check_source_options
        self.inspect_request = kernel.inspect_request

    def __getattr__(self, name: str) -> Any:
        # Everything but parsing (the analytics) is the real kernel's.
        return getattr(self._kernel, name)

    def parse_batch(self, *args: Any, **kwargs: Any) -> Any:
        self._kernel.debug_panic("injected fault: kernel_panic")
        raise AssertionError("debug_panic returned")


class FailingFactStore:
    """The real fact store, except that one insert fails (or stalls) before or after it writes,
    or every insert or grouped-sums read is slow."""

    def __init__(self, facts: FactStore, hits: dict[str, int]) -> None:
        self._facts = facts
        self._before = hits.get("fact_insert_fails_before")
        self._after = hits.get("fact_insert_fails_after")
        self._stall = hits.get("fact_insert_stalls_after")
        self._delay = hits.get("fact_insert_delay_ms", 0) / 1000
        self._query_delay = hits.get("fact_query_delay_ms", 0) / 1000
        self._calls = itertools.count(1)
        self._lock = threading.Lock()
        self.count_groups = facts.count_groups
        self.missing_rates = facts.missing_rates
        self.platform_freshness = facts.platform_freshness
        self.stream_grouped_sums = facts.stream_grouped_sums
        self.date_span = facts.date_span
        self.platforms = facts.platforms

    def grouped_sums(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self._query_delay)
        return self._facts.grouped_sums(*args, **kwargs)

    def insert(self, tenant: str, version: int, facts: Any) -> None:
        with self._lock:
            call = next(self._calls)
        time.sleep(self._delay)
        if call == self._before:
            raise StorageUnavailable("injected fault: insert failed before writing", "STORAGE_UNAVAILABLE")
        self._facts.insert(tenant, version, facts)
        if call == self._stall:
            log.warning("injected fault: insert %d written, stalling", call)
            threading.Event().wait()  # until the process is killed
        if call == self._after:
            raise StorageUnavailable("injected fault: insert failed after writing", "STORAGE_UNAVAILABLE")


def wrap(kernel: Any, facts: FactStore, faults: frozenset[str]) -> tuple[Kernel, FactStore]:
    hits = parse(faults)
    if "kernel_panic" in hits:
        kernel = PanickingKernel(kernel)
    if any(name.startswith(("fact_insert_", "fact_query_")) for name in hits):
        facts = FailingFactStore(facts, hits)
    return kernel, facts


__all__: Sequence[str] = ("KNOWN", "wrap")
