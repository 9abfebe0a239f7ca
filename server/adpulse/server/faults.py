"""Fault injection for tests, switched on only by ADPULSE_FAULTS (comma-separated names, each
optionally `@N`, the 1-based call it hits; default the first).

- `kernel_panic`: every batch parse panics inside the Rust kernel, to prove a panic answers
  INTERNAL instead of hanging the client.
- `fact_insert_fails_before@N`: the Nth fact insert fails before writing anything.
- `fact_insert_fails_after@N`: the Nth fact insert writes its rows, then fails, as if the
  store had died before confirming.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

from adpulse.server.domain.errors import StorageUnavailable
from adpulse.server.ports import FactStore, Kernel

KNOWN = frozenset({"kernel_panic", "fact_insert_fails_before", "fact_insert_fails_after"})


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

    def parse_batch(self, *args: Any, **kwargs: Any) -> Any:
        self._kernel.debug_panic("injected fault: kernel_panic")
        raise AssertionError("debug_panic returned")


class FailingFactStore:
    """The real fact store, except that one insert fails before or after it writes."""

    def __init__(self, facts: FactStore, before: int | None, after: int | None) -> None:
        self._facts = facts
        self._before = before
        self._after = after
        self._calls = itertools.count(1)
        self._lock = threading.Lock()
        self.grouped_sums = facts.grouped_sums
        self.missing_rates = facts.missing_rates
        self.platform_freshness = facts.platform_freshness

    def insert(self, tenant: str, version: int, facts: Any) -> None:
        with self._lock:
            call = next(self._calls)
        if call == self._before:
            raise StorageUnavailable("injected fault: insert failed before writing", "STORAGE_UNAVAILABLE")
        self._facts.insert(tenant, version, facts)
        if call == self._after:
            raise StorageUnavailable("injected fault: insert failed after writing", "STORAGE_UNAVAILABLE")


def wrap(kernel: Any, facts: FactStore, faults: frozenset[str]) -> tuple[Kernel, FactStore]:
    hits = parse(faults)
    if "kernel_panic" in hits:
        kernel = PanickingKernel(kernel)
    before, after = hits.get("fact_insert_fails_before"), hits.get("fact_insert_fails_after")
    if before or after:
        facts = FailingFactStore(facts, before, after)
    return kernel, facts


__all__: Sequence[str] = ("KNOWN", "wrap")
