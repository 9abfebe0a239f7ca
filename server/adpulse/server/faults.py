"""Fault injection for tests, switched on only by ADPULSE_FAULTS (comma-separated names).

`kernel_panic`: every batch parse panics inside the Rust kernel, to prove a panic answers
INTERNAL instead of hanging the client.
"""

from __future__ import annotations

from typing import Any

from adpulse.server.ports import Kernel

KNOWN = frozenset({"kernel_panic"})


class PanickingKernel:
    """The real kernel, except that parsing panics in Rust."""

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        self.SOURCES = kernel.SOURCES
        self.aggregate = kernel.aggregate

    def __getattr__(self, name: str) -> Any:
        # Everything but parsing (the analytics) is the real kernel's.
        return getattr(self._kernel, name)

    def parse_batch(self, *args: Any, **kwargs: Any) -> Any:
        self._kernel.debug_panic("injected fault: kernel_panic")
        raise AssertionError("debug_panic returned")


def wrap_kernel(kernel: Any, faults: frozenset[str]) -> Kernel:
    unknown = faults - KNOWN
    if unknown:
        raise ValueError(f"unknown ADPULSE_FAULTS: {', '.join(sorted(unknown))}")
    return PanickingKernel(kernel) if "kernel_panic" in faults else kernel
