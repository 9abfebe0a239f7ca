"""The result cache's bound and the page token's data version (no stores needed)."""

from __future__ import annotations

import pytest

from adpulse.server.domain.errors import InvalidArgument
from adpulse.server.transport import page_token
from adpulse.server.usecases.result_cache import ResultCache


def test_the_least_recently_used_entries_go_first_and_bytes_stay_within_the_bound() -> None:
    cache: ResultCache[str] = ResultCache(max_bytes=100)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # now b is the least recently used
    cache.put("c", "C", 40)
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, "A", "C")
    assert cache.bytes == 80 and len(cache) == 2
    cache.put("a", "A2", 10)  # replacing an entry frees its old size
    assert cache.bytes == 50 and cache.get("a") == "A2"
    cache.put("huge", "H", 101)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 2
    assert (cache.hits, cache.misses) == (4, 2)


def test_a_page_token_carries_the_version_of_its_listing() -> None:
    token = page_token.encode(100, "abc", 42)
    assert page_token.decode_with_version(token, "abc") == (100, 42)
    assert page_token.decode(token, "abc") == 100
    assert page_token.decode_with_version(page_token.encode(5, "abc"), "abc") == (5, None)
    assert page_token.decode_with_version("", "abc") == (0, None)
    forged = page_token.encode(1, "abc", "7")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        page_token.decode_with_version(forged, "abc")
