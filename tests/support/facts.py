"""Fact rows for tests, written as CSV, and an independent reference of what queries must say.

The reference is deliberately plain: Decimal arithmetic over Python dicts, nothing shared with
the server or the kernel.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

HEADER = [
    "date",
    "platform",
    "account_id",
    "campaign_id",
    "campaign_name",
    "ad_group_id",
    "ad_id",
    "currency",
    "impressions",
    "clicks",
    "cost",
    "conversions",
    "revenue",
]
PLATFORMS = ("google_ads", "meta_ads", "tiktok_ads", "linkedin_ads")


@dataclass(frozen=True)
class Fact:
    date: dt.date
    platform: str
    account_id: str
    campaign_id: str
    campaign_name: str
    ad_group_id: str
    ad_id: str
    currency: str
    impressions: int
    clicks: int
    cost: Decimal
    conversions: Decimal
    revenue: Decimal

    @property
    def key(self) -> tuple[object, ...]:
        return (self.date, self.platform, self.account_id, self.campaign_id, self.ad_group_id, self.ad_id)

    def csv_values(self) -> list[str]:
        return [
            self.date.isoformat(),
            self.platform,
            self.account_id,
            self.campaign_id,
            self.campaign_name,
            self.ad_group_id,
            self.ad_id,
            self.currency,
            str(self.impressions),
            str(self.clicks),
            str(self.cost),
            str(self.conversions),
            str(self.revenue),
        ]


def random_facts(
    seed: int, n_campaigns: int = 12, days: int = 20, start: dt.date = dt.date(2026, 3, 1)
) -> list[Fact]:
    """Ad-level rows over a few platforms, accounts and currencies, with some zero-volume rows."""
    rng = random.Random(seed)
    facts = []
    for c in range(n_campaigns):
        platform = PLATFORMS[c % len(PLATFORMS)]
        account = f"acc-{c % 3}"
        currency = "EUR" if c % 6 == 0 else "USD"
        for d in range(days):
            for ad in range(rng.randint(1, 3)):
                impressions = rng.choice([0, rng.randint(1, 50), rng.randint(100, 100_000)])
                clicks = rng.randint(0, impressions // 10) if impressions else 0
                cost = Decimal(rng.randint(0, 5_000_00)) / 100 if impressions else Decimal(0)
                conversions = Decimal(rng.randint(0, 400)) / 4 if clicks else Decimal(0)
                revenue = Decimal(rng.randint(0, 90_000_000)) / 1000 if conversions else Decimal(0)
                facts.append(
                    Fact(
                        start + dt.timedelta(days=d),
                        platform,
                        account,
                        f"cmp-{c}",
                        f"Campaign {c}",
                        f"ag-{c}-{ad % 2}",
                        f"ad-{c}-{ad}",
                        currency,
                        impressions,
                        clicks,
                        cost,
                        conversions,
                        revenue,
                    )
                )
    return facts


def to_csv(rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def latest_by_key(facts: Iterable[Fact]) -> list[Fact]:
    """What the store must hold after these rows arrive in this order: the last row per key."""
    return list({f.key: f for f in facts}.values())


@dataclass(frozen=True)
class Expected:
    impressions: int
    clicks: int
    cost: Decimal | None
    conversions: Decimal
    revenue: Decimal | None
    currency: str | None

    def kpis(self) -> dict[str, Decimal | None]:
        def ratio(num: Decimal | int | None, den: Decimal | int | None) -> Decimal | None:
            return None if num is None or den is None or den == 0 else Decimal(num) / Decimal(den)

        cost, revenue = self.cost, self.revenue
        return {
            "ctr": ratio(self.clicks, self.impressions),
            "cpc": ratio(cost, self.clicks),
            "cpm": ratio(None if cost is None else cost * 1000, self.impressions),
            "cvr": ratio(self.conversions, self.clicks),
            "cpa": ratio(cost, self.conversions),
            "roas": ratio(revenue, cost),
            "roi": ratio(None if revenue is None or cost is None else revenue - cost, cost),
        }


def expected_groups(
    facts: Iterable[Fact], key: Callable[[Fact], tuple[object, ...]]
) -> dict[tuple[object, ...], Expected]:
    """Sums per group; money is undefined where a group mixes currencies."""
    groups: dict[tuple[object, ...], list[Fact]] = defaultdict(list)
    for f in facts:
        groups[key(f)].append(f)
    out = {}
    for k, members in groups.items():
        currencies = {f.currency for f in members}
        single = len(currencies) == 1
        out[k] = Expected(
            impressions=sum(f.impressions for f in members),
            clicks=sum(f.clicks for f in members),
            cost=sum((f.cost for f in members), Decimal(0)) if single else None,
            conversions=sum((f.conversions for f in members), Decimal(0)),
            revenue=sum((f.revenue for f in members), Decimal(0)) if single else None,
            currency=currencies.pop() if single else None,
        )
    return out


def restated(fact: Fact, **changes: object) -> Fact:
    return replace(fact, **changes)  # type: ignore[arg-type]


def fingerprint(rows: list[tuple[object, ...]]) -> tuple[int, Decimal, str]:
    """(row count, sum of cost, a hash over every row) — equal only if the row sets are equal."""

    def canonical(row: tuple[object, ...]) -> str:
        # 1.5 and 1.50 are the same money: compare numbers, not their spellings.
        return repr(tuple(format(v.normalize(), "f") if isinstance(v, Decimal) else v for v in row))

    ordered = sorted(map(canonical, rows))
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()
    total_cost = sum((Decimal(str(r[7])) for r in rows), Decimal(0))
    return len(ordered), total_cost, digest


def sent_rows(facts: Iterable[Fact]) -> list[tuple[object, ...]]:
    """What the store must hold for these facts, in the shape `stored_rows` reads back."""
    return [
        (
            f.platform,
            f.account_id,
            f.campaign_id,
            f.ad_group_id,
            f.ad_id,
            f.date.isoformat(),
            f.impressions,
            f.cost,
            f.clicks,
            f.conversions,
            f.revenue,
        )
        for f in latest_by_key(facts)
    ]
