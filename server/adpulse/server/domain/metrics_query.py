"""A metrics query: which facts, grouped how, ordered how, which page."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.fx import validate_currency_code

MEASURES = ("impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros")
KPIS = ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class Dimension(enum.Enum):
    """What rows can be grouped or filtered by; the value is its name in order_by and the CLI."""

    DATE = "date"
    PLATFORM = "platform"
    ACCOUNT = "account"
    CAMPAIGN = "campaign"
    AD_GROUP = "ad_group"
    AD = "ad"
    CURRENCY = "currency"

    @property
    def column(self) -> str:
        """The fact column holding this dimension."""
        return _COLUMNS[self]

    @property
    def key_columns(self) -> tuple[str, ...]:
        """Columns that identify one value: an id is only unique within its parents."""
        return _KEY_COLUMNS[self]


_COLUMNS = {
    Dimension.DATE: "date",
    Dimension.PLATFORM: "platform",
    Dimension.ACCOUNT: "account_id",
    Dimension.CAMPAIGN: "campaign_id",
    Dimension.AD_GROUP: "ad_group_id",
    Dimension.AD: "ad_id",
    Dimension.CURRENCY: "currency",
}
_HIERARCHY = ("platform", "account_id", "campaign_id", "ad_group_id", "ad_id")
_KEY_COLUMNS = {
    Dimension.DATE: ("date",),
    Dimension.CURRENCY: ("currency",),
    **{
        dim: _HIERARCHY[: _HIERARCHY.index(dim.column) + 1]
        for dim in (
            Dimension.PLATFORM,
            Dimension.ACCOUNT,
            Dimension.CAMPAIGN,
            Dimension.AD_GROUP,
            Dimension.AD,
        )
    },
}


class Granularity(enum.Enum):
    """Size of the date buckets."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class DimensionFilter:
    """Keeps (or, with `exclude`, drops) facts whose dimension value is in `values`."""

    dimension: Dimension
    values: tuple[str, ...]
    exclude: bool = False


@dataclass(frozen=True)
class FactSelection:
    """Which facts a query reads."""

    tenant: str
    start: dt.date | None
    end: dt.date | None
    filters: tuple[DimensionFilter, ...] = ()


@dataclass(frozen=True)
class GroupColumn:
    """One column the store groups by; `date` is bucketed by `granularity`."""

    column: str
    granularity: Granularity = Granularity.DAY


@dataclass(frozen=True)
class OrderKey:
    """One field of an ordering."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class MetricsQuery:
    """A validated QueryMetrics request."""

    selection: FactSelection
    dimensions: tuple[Dimension, ...]
    granularity: Granularity
    order_by: tuple[OrderKey, ...]
    offset: int
    page_size: int
    reporting_currency: str = ""

    @property
    def key_columns(self) -> tuple[str, ...]:
        """Group columns in request order, each id preceded by its parents, without repeats."""
        return tuple(dict.fromkeys(col for dim in self.dimensions for col in dim.key_columns))

    @property
    def group_columns(self) -> tuple[GroupColumn, ...]:
        return tuple(GroupColumn(col, self.granularity) for col in self.key_columns)


# order_by speaks the API's names; these are the result columns they sort.
_ORDER_FIELDS = {
    **{dim.value: dim.column for dim in Dimension},
    "impressions": "impressions",
    "clicks": "clicks",
    "cost": "cost_micros",
    "conversions": "conversions_micros",
    "revenue": "revenue_micros",
    **{kpi: kpi for kpi in KPIS},
}


def parse_order_by(text: str, dimensions: tuple[Dimension, ...]) -> tuple[OrderKey, ...]:
    """Parses AIP-132 `order_by` ("cost desc, campaign") into result-column keys."""
    keys: list[OrderKey] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        words = part.split()
        name = words[0].lower()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in {"asc", "desc"} or name not in _ORDER_FIELDS:
            raise InvalidArgument(
                f"cannot order by {part!r}: use a field name ({', '.join(_ORDER_FIELDS)}) "
                "optionally followed by desc",
                reason="INVALID_ORDER_BY",
                violations=[FieldViolation("order_by", f"unknown ordering {part!r}", "INVALID_ORDER_BY")],
            )
        if name in {dim.value for dim in Dimension} and Dimension(name) not in dimensions:
            raise InvalidArgument(
                f"cannot order by {name!r}: the query does not group by it",
                reason="INVALID_ORDER_BY",
                violations=[FieldViolation("order_by", f"{name!r} is not grouped by", "INVALID_ORDER_BY")],
            )
        keys.append(OrderKey(_ORDER_FIELDS[name], direction == "desc"))
    return tuple(keys)


def parse_date(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _bad_date(text, field)
    except ValueError:
        return _bad_date(text, field)


def _bad_date(text: str, field: str) -> dt.date:
    raise InvalidArgument(
        f"{field} {text!r} is not a date (expected YYYY-MM-DD)",
        reason="INVALID_DATE",
        violations=[FieldViolation(field, f"{text!r} is not a date (expected YYYY-MM-DD)", "INVALID_DATE")],
    )


def clamp_page_size(requested: int) -> int:
    """AIP-158: 0 means the default, larger than the maximum is lowered, negative is an error."""
    if requested < 0:
        raise InvalidArgument(
            "page_size must not be negative",
            reason="INVALID_PAGE_SIZE",
            violations=[FieldViolation("page_size", "must not be negative", "INVALID_PAGE_SIZE")],
        )
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def build_query(
    *,
    tenant: str,
    start_date: str,
    end_date: str,
    dimensions: tuple[Dimension, ...],
    granularity: Granularity,
    filters: tuple[DimensionFilter, ...],
    order_by: str,
    page_size: int,
    offset: int,
    reporting_currency: str = "",
) -> MetricsQuery:
    """Validates a request's parts into a query, naming every field that is wrong."""
    start = parse_date(start_date, "start_date")
    end = parse_date(end_date, "end_date")
    if start and end and start > end:
        raise InvalidArgument(
            f"start_date {start} is after end_date {end}",
            reason="INVALID_DATE_RANGE",
            violations=[FieldViolation("start_date", "must not be after end_date", "INVALID_DATE_RANGE")],
        )
    if len(set(dimensions)) != len(dimensions):
        raise InvalidArgument(
            "a dimension is listed twice",
            reason="DUPLICATE_DIMENSION",
            violations=[FieldViolation("dimensions", "each dimension at most once", "DUPLICATE_DIMENSION")],
        )
    for i, f in enumerate(filters):
        if f.dimension is Dimension.DATE:
            raise InvalidArgument(
                "filter on the date range instead of the date dimension",
                reason="INVALID_FILTER",
                violations=[
                    FieldViolation(f"filters[{i}].dimension", "use start_date/end_date", "INVALID_FILTER")
                ],
            )
        if not f.values:
            raise InvalidArgument(
                "a filter needs at least one value",
                reason="INVALID_FILTER",
                violations=[FieldViolation(f"filters[{i}].values", "at least one value", "INVALID_FILTER")],
            )
    keys = parse_order_by(order_by, dimensions)
    return MetricsQuery(
        selection=FactSelection(tenant, start, end, filters),
        dimensions=dimensions,
        granularity=granularity,
        order_by=keys,
        offset=offset,
        page_size=clamp_page_size(page_size),
        reporting_currency=validate_currency_code(reporting_currency, "reporting_currency")
        if reporting_currency
        else "",
    )
