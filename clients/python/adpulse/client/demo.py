"""A realistic synthetic account: campaigns on several platforms with weekly seasonality, trends,
noise, and incidents injected on known days (so a newcomer sees insights, and the detection
benchmark can score itself against the truth). Pure Python: no numpy, no kernel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

HEADER = ["date", "platform", "account_id", "campaign_id", "campaign_name", "ad_group_id", "ad_id",
          "currency", "impressions", "clicks", "cost", "conversions", "revenue"]  # fmt: skip
# Traffic by weekday (Monday first): consumer platforms dip on weekends, LinkedIn nearly stops.
WEEKDAY = {
    "google_ads": (1.0, 1.03, 1.02, 1.0, 0.95, 0.82, 0.85),
    "meta_ads": (0.95, 0.97, 0.98, 1.0, 1.05, 1.12, 1.1),
    "tiktok_ads": (0.9, 0.92, 0.95, 1.0, 1.08, 1.18, 1.15),
    "linkedin_ads": (1.1, 1.15, 1.12, 1.08, 0.95, 0.45, 0.4),
}
INCIDENT_KINDS = ("spend_spike", "tracking_break", "cpc_surge", "ctr_collapse", "revenue_spike")
# The metric that shows each kind of incident first.
PRIMARY_METRIC = {
    "spend_spike": "cost",
    "tracking_break": "conversions",
    "cpc_surge": "cpc",
    "ctr_collapse": "ctr",
    "revenue_spike": "revenue",
}
_NAMES = ("Brand", "Search Generic", "Prospecting", "Retargeting", "Lookalike", "Video Reach", "B2B Leads",
          "Shopping", "Spark Ads", "Competitor", "Catalog Sales", "Awareness")  # fmt: skip


@dataclass(frozen=True)
class Campaign:
    platform: str
    account_id: str
    campaign_id: str
    name: str
    currency: str
    impressions: float
    ctr: float
    cpc: float
    cvr: float
    order_value: float
    growth: float


@dataclass(frozen=True)
class Incident:
    """A labelled incident: `kind` on `campaign` from `start` to `end`, scaled by `factor`."""

    kind: str
    campaign: Campaign
    start: dt.date
    end: dt.date
    factor: float


def campaigns(rng: random.Random, count: int) -> list[Campaign]:
    platforms = list(WEEKDAY)
    out = []
    for i in range(count):
        platform = platforms[i % len(platforms)]
        out.append(
            Campaign(
                platform=platform,
                account_id=f"{platform.split('_')[0]}-acct-{1 + i % 2}",
                campaign_id=f"cmp-{i + 1:03d}",
                name=f"{_NAMES[i % len(_NAMES)]} {i + 1}",
                currency="USD",
                impressions=rng.uniform(8_000, 80_000),
                ctr=rng.uniform(0.008, 0.04),
                cpc=rng.uniform(0.4, 2.5),
                cvr=rng.uniform(0.02, 0.08),
                order_value=rng.uniform(30, 160),
                growth=rng.uniform(-0.002, 0.003),
            )
        )
    return out


def plan_incidents(
    rng: random.Random, chosen: Sequence[Campaign], window: tuple[dt.date, dt.date], kinds: Sequence[str]
) -> list[Incident]:
    """One incident per kind, each on its own campaign, 1 to 4 days long, in random order over
    `window`. When the window has room (11 days an incident), each gets a slot of its own with a
    clean week before it, so no incident sits in another's days or in the week it is compared
    with: "which campaign broke" then has one answer."""
    span = (window[1] - window[0]).days + 1
    slot = span // len(kinds)
    order = rng.sample(list(kinds), len(kinds))
    out = []
    for n, (kind, campaign) in enumerate(zip(order, rng.sample(list(chosen), len(kinds)), strict=True)):
        days = rng.randint(1, 4)
        offset = n * slot + rng.randint(7, slot - days) if slot >= 11 else rng.randint(0, max(span - days, 0))
        start = window[0] + dt.timedelta(days=offset)
        factor = {
            "spend_spike": rng.uniform(2.5, 4.0),
            "tracking_break": 0.0,
            "cpc_surge": rng.uniform(1.8, 2.6),
            "ctr_collapse": rng.uniform(0.2, 0.4),
            "revenue_spike": rng.uniform(3.0, 5.0),
        }[kind]
        out.append(Incident(kind, campaign, start, start + dt.timedelta(days=days - 1), factor))
    return sorted(out, key=lambda i: i.start)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal beyond a mean of 30)."""
    if mean < 30:
        # Knuth's method: exact for the small counts (conversions) where it matters.
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def rows(
    rng: random.Random, chosen: Sequence[Campaign], days: Sequence[dt.date], incidents: Sequence[Incident]
) -> Iterator[list[str]]:
    """Two ad groups of one ad each per campaign and day, with noise at every level."""
    for c in chosen:
        hits = [i for i in incidents if i.campaign is c]
        for t, day in enumerate(days):
            level = WEEKDAY[c.platform][day.weekday()] * math.exp(c.growth * t) * rng.lognormvariate(0, 0.08)
            ctr = c.ctr * rng.lognormvariate(0, 0.05)
            cpc = c.cpc * rng.lognormvariate(0, 0.05)
            cvr = c.cvr * rng.lognormvariate(0, 0.07)
            spend, click_rate, price, conversion, value = 1.0, 1.0, 1.0, 1.0, 1.0
            for i in hits:
                if i.start <= day <= i.end:
                    if i.kind == "spend_spike":
                        spend = i.factor
                    elif i.kind == "tracking_break":
                        conversion = i.factor
                    elif i.kind == "cpc_surge":
                        price = i.factor
                    elif i.kind == "ctr_collapse":
                        click_rate = i.factor
                    else:
                        value = i.factor
            for group, share in enumerate((0.6, 0.4)):
                impressions = poisson(rng, c.impressions * level * spend * share)
                clicks = min(impressions, poisson(rng, impressions * ctr * click_rate))
                cost = round(clicks * cpc * price * rng.lognormvariate(0, 0.03), 2)
                conversions = poisson(rng, clicks * cvr * conversion)
                revenue = sum(
                    rng.lognormvariate(math.log(c.order_value) - 0.18, 0.6) for _ in range(conversions)
                )
                yield ad_row(day, c, group, (impressions, clicks, cost, conversions, revenue * value))


class CampaignKey(Protocol):
    @property
    def platform(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def campaign_id(self) -> str: ...
    @property
    def name(self) -> str: ...


def ad_row(
    day: dt.date, c: CampaignKey, group: int, measures: tuple[int, int, float, float, float]
) -> list[str]:
    """The CSV row of ad group `group` (one ad each) of campaign `c` on `day`, in USD."""
    impressions, clicks, cost, conversions, revenue = measures
    return [
        day.isoformat(),
        c.platform,
        c.account_id,
        c.campaign_id,
        c.name,
        f"{c.campaign_id}-ag{group + 1}",
        f"{c.campaign_id}-ad{group + 1}",
        "USD",
        str(impressions),
        str(clicks),
        f"{cost:.2f}",
        str(conversions),
        f"{revenue:.2f}",
    ]


def dataset(
    seed: int, *, end: dt.date, days: int = 120, campaign_count: int = 12, incident_days: int = 28
) -> tuple[str, list[Incident]]:
    """The CSV of an account whose data ends on `end`, and the incidents injected into its last
    `incident_days` days (one of each kind)."""
    rng = random.Random(seed)
    chosen = campaigns(rng, campaign_count)
    window = (end - dt.timedelta(days=incident_days - 1), end)
    incidents = plan_incidents(rng, chosen, window, INCIDENT_KINDS)
    dates = [end - dt.timedelta(days=days - 1 - i) for i in range(days)]
    return csv_text(rows(rng, chosen, dates, incidents)), incidents


def csv_text(lines: Iterable[list[str]]) -> str:
    """Rows in the layout of `HEADER` as a CSV file's text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(lines)
    return out.getvalue()
