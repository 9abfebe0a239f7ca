"""SearchDimensionValues: the tenant's accounts, campaigns, ad groups and ads by id or name,
biggest recent spenders first, one page at a time, from the store's search index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adpulse.server.domain.search import Kind, Match, SearchLimits, SearchPage, build_search_query
from adpulse.server.ports import DimensionSearch


@dataclass(frozen=True)
class SearchResult:
    page: SearchPage
    next_offset: int | None  # None on the last page


class SearchUseCase:
    def __init__(self, store: DimensionSearch, limits: SearchLimits) -> None:
        self._store = store
        self._limits = limits

    def search(
        self,
        *,
        tenant: str,
        text: str,
        match: Match,
        kinds: Sequence[Kind],
        platforms: Sequence[str],
        page_size: int,
        offset: int,
    ) -> SearchResult:
        query = build_search_query(
            tenant=tenant,
            text=text,
            match=match,
            kinds=kinds,
            platforms=platforms,
            page_size=page_size,
            offset=offset,
            limits=self._limits,
        )
        page = self._store.search(query)
        end = query.offset + len(page.values)
        return SearchResult(page, end if end < page.total_size else None)
