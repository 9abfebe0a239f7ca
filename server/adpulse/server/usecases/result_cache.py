"""An in-process cache of query results, bounded in bytes, least recently used out first.

Keys carry the tenant's data version (from the shared store), so a change made through any
server process makes every older entry unreachable at once; those entries then age out like
any other. Nothing here is ever stale-but-served: a hit is the answer at that version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    size: int


class ResultCache(Generic[V]):
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key: Hashable, value: V, size: int) -> None:
        """Keeps `value` (of about `size` bytes); one larger than the whole cache is not kept."""
        if size > self._max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            self._entries[key] = _Entry(value, size)
            self.bytes += size
            while self.bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.size

    def __len__(self) -> int:
        return len(self._entries)
