"""A search of a tenant's accounts, campaigns, ad groups and ads by id or name, and its answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from adpulse.server.domain.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20


class Kind(Enum):
    ACCOUNT = "account"
    CAMPAIGN = "campaign"
    AD_GROUP = "ad_group"
    AD = "ad"


class Match(Enum):
    PREFIX = "prefix"
    SUBSTRING = "substring"


@dataclass(frozen=True)
class SearchLimits:
    """The caps of a search (settings `max_search_query_chars`, `max_search_page_size`)."""

    max_query_chars: int
    max_page_size: int


@dataclass(frozen=True)
class SearchQuery:
    tenant: str
    text: str  # matched literally and case-insensitively; empty matches everything
    match: Match
    kinds: tuple[Kind, ...]
    platforms: tuple[str, ...]
    offset: int
    page_size: int


@dataclass(frozen=True)
class DimensionValue:
    kind: Kind
    id: str
    name: str
    platform: str
    account_id: str
    campaign_id: str
    ad_group_id: str
    currency: str
    recent_cost_micros: int
    last_date: dt.date


@dataclass(frozen=True)
class SearchPage:
    """One page of values, how many match in all, and the recent window (first, last day) their
    cost is summed over; None when the tenant has no data."""

    values: tuple[DimensionValue, ...]
    total_size: int
    recent: tuple[dt.date, dt.date] | None


def build_search_query(
    *,
    tenant: str,
    text: str,
    match: Match,
    kinds: Sequence[Kind],
    platforms: Sequence[str],
    page_size: int,
    offset: int,
    limits: SearchLimits,
) -> SearchQuery:
    if len(text) > limits.max_query_chars:
        raise InvalidArgument(
            f"query is {len(text)} characters long; a search takes at most {limits.max_query_chars}",
            "TEXT_TOO_LONG",
            violations=[
                FieldViolation("query", f"at most {limits.max_query_chars} characters", "TEXT_TOO_LONG")
            ],
        )
    if page_size < 0:
        raise InvalidArgument(
            "page_size must not be negative",
            "INVALID_PAGE_SIZE",
            violations=[FieldViolation("page_size", "must not be negative", "INVALID_PAGE_SIZE")],
        )
    return SearchQuery(
        tenant=tenant,
        text=text,
        match=match,
        kinds=tuple(dict.fromkeys(kinds)) or tuple(Kind),
        platforms=tuple(dict.fromkeys(platforms)),
        offset=offset,
        page_size=min(page_size or DEFAULT_PAGE_SIZE, limits.max_page_size),
    )
