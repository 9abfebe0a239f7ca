"""Query results as plain Python values: money in Decimal currency units, None for undefined."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adpulse.v1 import analytics_service_pb2 as pb

KPIS = ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")
MONEY_KPIS = ("cpc", "cpm", "cpa")
MICROS = Decimal(1_000_000)
# The row fields a dimension fills, named as the CLI and `MetricsRecord.dimensions` name them.
DIMENSION_FIELDS = {
    "date": "date",
    "platform": "platform",
    "account": "account_id",
    "campaign": "campaign_id",
    "campaign_name": "campaign_name",
    "ad_group": "ad_group_id",
    "ad": "ad_id",
}

# Ids are unique only within their parents, so grouping by one also groups by its parents.
HIERARCHY = ("platform", "account", "campaign", "ad_group", "ad")


def money_text(amount: Decimal) -> str:
    """Exact money as the JSON of every client writes it: at least two decimals, at most six
    (micros), no trailing zeros past the second: "12.50", "0.125"."""
    whole, _, fraction = f"{amount:.6f}".rstrip("0").partition(".")
    return f"{whole}.{fraction:0<2}"


def columns_for(by: Sequence[str]) -> list[str]:
    """The dimension fields rows grouped by `by` carry, in the order a table should show them."""
    columns: list[str] = []
    for dim in by:
        implied = HIERARCHY[: HIERARCHY.index(dim) + 1] if dim in HIERARCHY else (dim,)
        for name in implied:
            columns += [name, "campaign_name"] if name == "campaign" else [name]
    return [c for c in dict.fromkeys(columns) if c != "currency"]


@dataclass(frozen=True)
class MetricsRecord:
    """One group of a metrics query (or the totals, with no dimensions)."""

    dimensions: dict[str, str]
    currency: str | None
    impressions: int
    clicks: int
    cost: Decimal | None
    conversions: Decimal
    revenue: Decimal | None
    kpis: dict[str, float | None]

    @classmethod
    def from_proto(cls, row: pb.MetricsRow) -> MetricsRecord:
        m = row.metrics
        return cls(
            dimensions=_dimensions(row),
            currency=row.currency or None,
            impressions=m.impressions,
            clicks=m.clicks,
            cost=Decimal(m.cost_micros.value) / MICROS if m.HasField("cost_micros") else None,
            # The service sums conversions exactly in millionths and divides once, so the
            # shortest repr of the double is that exact decimal.
            conversions=Decimal(repr(m.conversions)),
            revenue=Decimal(m.revenue_micros.value) / MICROS if m.HasField("revenue_micros") else None,
            kpis={k: getattr(m, k).value if m.HasField(k) else None for k in KPIS},  # type: ignore[arg-type]
        )

    def as_dict(self) -> dict[str, Any]:
        """Flat mapping: dimensions, currency, measures, KPIs (the CLI's JSON row)."""
        return {
            **self.dimensions,
            "currency": self.currency,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "cost": self.cost,
            "conversions": self.conversions,
            "revenue": self.revenue,
            **self.kpis,
        }

    def as_json(self) -> dict[str, Any]:
        """`as_dict` for JSON: money as decimal strings (`money_text`), conversions a number."""
        values = self.as_dict()
        for name in ("cost", "revenue"):
            values[name] = None if values[name] is None else money_text(values[name])
        values["conversions"] = float(self.conversions)
        return values


def _dimensions(row: pb.MetricsRow) -> dict[str, str]:
    """The dimensions a row carries; a campaign always comes with its name, even when empty."""
    found = {name: getattr(row, f) for name, f in DIMENSION_FIELDS.items() if getattr(row, f)}
    if "campaign" in found:
        found["campaign_name"] = row.campaign_name
    return found


@dataclass(frozen=True)
class MetricsResult:
    """Every group of a query (all pages) and the totals."""

    rows: list[MetricsRecord]
    totals: MetricsRecord
    total_size: int
