"""A plain-Python statement of what the kernel computes, written from the contract and not from
the Rust code: Decimal for money, dicts for groups, one value at a time. The property tests hold
the kernel to it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

TRIM = " \t\n\r\x0c"
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
MAX_COUNT = 10**12
MAX_MICROS = 10**15
MAX_UNITS = 10**9

PLATFORMS = {
    **{name: name for name in (
        "google_ads", "meta_ads", "tiktok_ads", "linkedin_ads", "microsoft_ads",
        "pinterest_ads", "snapchat_ads", "reddit_ads", "amazon_ads", "x_ads",
    )},
    "google": "google_ads", "adwords": "google_ads",
    "meta": "meta_ads", "facebook": "meta_ads", "facebook_ads": "meta_ads", "instagram": "meta_ads",
    "tiktok": "tiktok_ads", "linkedin": "linkedin_ads", "bing": "microsoft_ads",
    "microsoft": "microsoft_ads", "pinterest": "pinterest_ads", "snapchat": "snapchat_ads",
    "reddit": "reddit_ads", "amazon": "amazon_ads", "twitter": "x_ads", "x": "x_ads",
}  # fmt: skip

# A sample of active ISO 4217 codes and of codes that must be refused; the full list is the
# kernel's (its own unit tests pin it).
CURRENCIES = {"EUR", "USD", "GBP", "JPY", "CHF", "SEK", "BRL", "INR", "XOF", "ZWG"}
NOT_CURRENCIES = {"EURO", "XXX", "XAU", "HRK", "US", ""}

# The fields of a fact row: (generic column, text kind).
IDS = ("account_id", "campaign_id", "ad_group_id", "ad_id")
COUNTS = ("impressions", "clicks")
MONEY = ("cost", "conversions", "revenue")
COLUMNS = ("date", "platform", "account_id", "campaign_id", "campaign_name", "ad_group_id", "ad_id",
           "currency", *COUNTS, *MONEY)  # fmt: skip
FACT_COLUMNS = ("date", "platform", "account_id", "campaign_id", "campaign_name", "ad_group_id",
                "ad_id", "currency", "impressions", "clicks", "cost_micros", "conversions_micros",
                "revenue_micros")  # fmt: skip
KEY = ("date", "platform", "account_id", "campaign_id", "ad_group_id", "ad_id")


class Invalid(Exception):
    """A value the kernel must refuse."""


def trim(text: str) -> str:
    return text.strip(TRIM)


def date_value(text: str) -> dt.date:
    text = trim(text)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise Invalid(text)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as e:
        raise Invalid(text) from e
    if not FIRST_DATE <= day <= LAST_DATE:
        raise Invalid(text)
    return day


def platform_value(text: str) -> str:
    name = PLATFORMS.get(trim(text).lower())
    if name is None:
        raise Invalid(text)
    return name


def currency_value(text: str) -> str:
    code = trim(text).upper()
    if code not in CURRENCIES:
        raise Invalid(text)
    return code


def id_value(text: str) -> str:
    text = trim(text)
    if not text or len(text.encode()) > 256 or any(unicodedata.category(c) == "Cc" for c in text):
        raise Invalid(text)
    return text


def name_value(text: str) -> str:
    text = trim(text)
    if len(text.encode()) > 1024:
        raise Invalid(text)
    return text


def whole_value(text: str, ceiling: int) -> int:
    text = trim(text)
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise Invalid(text)
    return bounded(int(text), ceiling)


def bounded(value: int, ceiling: int) -> int:
    if value < 0 or value > ceiling:
        raise Invalid(str(value))
    return value


def micros_of_decimal(value: Decimal) -> int:
    """Money in currency units → micros, half to even; the bound is on the exact value."""
    if value.is_nan() or value.is_infinite() or value < 0 or value > MAX_UNITS:
        raise Invalid(str(value))
    with localcontext() as ctx:
        ctx.prec = 200
        return int((value * 10**6).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def money_text_value(text: str) -> int:
    text = trim(text)
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
        raise Invalid(text)
    value = Decimal(text)
    return 0 if value == 0 else micros_of_decimal(value)


def money_float_value(value: float) -> int:
    """A binary float is read as its shortest round-trip decimal (Python's repr)."""
    return micros_of_decimal(Decimal(repr(value)))


@dataclass
class Outcome:
    facts: list[dict[str, object]] = field(default_factory=list)
    rows_total: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    errors: set[tuple[int, str]] = field(default_factory=set)


def text_fact(row: dict[str, str | None]) -> tuple[dict[str, object], list[str]]:
    """A row of text values keyed by generic column (None or absent: the row lacks it) → its
    values by generic column (money in micros) and the columns that are wrong."""
    checks = {
        "date": date_value, "platform": platform_value, "currency": currency_value,
        "campaign_name": name_value,
        **dict.fromkeys(IDS, id_value),
        **{c: lambda t: whole_value(t, MAX_COUNT) for c in COUNTS},
        **dict.fromkeys(MONEY, money_text_value),
    }  # fmt: skip
    fact: dict[str, object] = {}
    bad: list[str] = []
    for column, check in checks.items():
        text = row.get(column)
        optional = column == "campaign_name" or column in COUNTS or column in MONEY
        if text is None and not optional:
            bad.append(column)
            continue
        try:
            fact[column] = check(text or "")
        except Invalid:
            bad.append(column)
    return fact, bad


def outcome(rows: Iterable[tuple[dict[str, object], Sequence[str]]]) -> Outcome:
    """Counts, errors and deduplicated facts of rows already checked one by one (values by
    generic column, and the input names of the wrong ones)."""
    out = Outcome()
    accepted: list[dict[str, object]] = []
    for number, (values, bad) in enumerate(rows, start=1):
        out.rows_total += 1
        if bad:
            out.rows_rejected += 1
            out.errors |= {(number, column) for column in bad}
        else:
            accepted.append({f"{c}_micros" if c in MONEY else c: v for c, v in values.items()})
    last = {tuple(f[k] for k in KEY): i for i, f in enumerate(accepted)}
    out.facts = [f for i, f in enumerate(accepted) if last[tuple(f[k] for k in KEY)] == i]
    out.rows_superseded = len(accepted) - len(out.facts)
    return out


# --- aggregate --------------------------------------------------------------------------

MEASURES = ("impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros")
KPIS = ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")


def kpis(s: dict[str, int], money_known: bool) -> dict[str, float | None]:
    def ratio(numerator: float, denominator: int, money: bool = True) -> float | None:
        if denominator == 0 or (money and not money_known):
            return None
        return numerator / float(denominator)

    cost = float(s["cost_micros"])
    return {
        "ctr": ratio(float(s["clicks"]), s["impressions"], money=False),
        "cpc": ratio(cost / 1e6, s["clicks"]),
        "cpm": ratio(cost / 1e3, s["impressions"]),
        "cvr": ratio(float(s["conversions_micros"]) / 1e6, s["clicks"], money=False),
        "cpa": ratio(cost, s["conversions_micros"]),
        "roas": ratio(float(s["revenue_micros"]), s["cost_micros"]),
        "roi": ratio(float(s["revenue_micros"] - s["cost_micros"]), s["cost_micros"]),
    }


def aggregate(
    rows: list[dict[str, object]], keys: Sequence[str]
) -> dict[tuple[object, ...], dict[str, object]]:
    """Groups by `keys` → sums, currency (tracked when `currency` is a column and not a key) and
    KPIs. Mixed currencies null the money."""
    track = bool(rows) and "currency" in rows[0] and "currency" not in keys
    groups: dict[tuple[object, ...], dict[str, object]] = {}
    currencies: dict[tuple[object, ...], set[object]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        sums = groups.setdefault(key, dict.fromkeys(MEASURES, 0))
        for m in MEASURES:
            sums[m] = int(sums[m]) + int(row[m])  # type: ignore[call-overload]
        currencies.setdefault(key, set()).add(row.get("currency"))
    if not keys and not groups:
        groups[()] = dict.fromkeys(MEASURES, 0)
        currencies[()] = {None}
    for key, sums in groups.items():
        mixed = track and len(currencies[key]) > 1
        result = kpis(sums, money_known=not mixed)  # type: ignore[arg-type]
        if track:
            sums["currency"] = None if mixed else next(iter(currencies[key]))
        if mixed:
            sums["cost_micros"] = sums["revenue_micros"] = None
        sums.update(result)
    return groups
