"""Exchange rates and the currencies money is reported in."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from adpulse.server.domain.errors import FieldViolation, InvalidArgument

RATE_DECIMALS = 12
_CODE = re.compile(r"[A-Z]{3}")
_MAX_RATE = Decimal(10) ** 9


@dataclass(frozen=True)
class FxRate:
    """One `base` is `rate` of `quote` on `date`."""

    date: dt.date
    base: str
    quote: str
    rate: Decimal


@dataclass(frozen=True)
class MissingRate:
    """A currency whose rows need a rate that is not there, with the first such dates."""

    currency: str
    dates: tuple[dt.date, ...]
    count: int


def validate_currency_code(code: str, field: str) -> str:
    """An ISO 4217-shaped code; whether it is a live currency the rates' users know best."""
    if not _CODE.fullmatch(code):
        raise InvalidArgument(
            f"{field} {code!r} is not a currency code (three capital letters, ISO 4217)",
            "INVALID_CURRENCY",
            violations=[FieldViolation(field, "three capital letters, ISO 4217", "INVALID_CURRENCY")],
        )
    return code


def parse_rates(raw: Sequence[tuple[str, str, str, str]]) -> list[FxRate]:
    """Validates (date, base, quote, rate) tuples; every bad field is named."""
    violations: list[FieldViolation] = []
    rates = []
    for i, (date_text, base, quote, rate_text) in enumerate(raw):
        where = f"rates[{i}]"
        problems: list[FieldViolation] = []
        try:
            date = dt.date.fromisoformat(date_text) if len(date_text) == 10 else None
        except ValueError:
            date = None
        if date is None:
            problems.append(
                FieldViolation(f"{where}.date", f"{date_text!r} is not YYYY-MM-DD", "INVALID_DATE")
            )
        for name, code in (("base_currency", base), ("quote_currency", quote)):
            if not _CODE.fullmatch(code):
                problems.append(
                    FieldViolation(f"{where}.{name}", f"{code!r} is not a currency code", "INVALID_CURRENCY")
                )
        if base == quote:
            problems.append(
                FieldViolation(f"{where}.quote_currency", "must differ from base_currency", "SAME_CURRENCY")
            )
        rate = _rate(rate_text)
        if rate is None:
            problems.append(
                FieldViolation(
                    f"{where}.rate",
                    f"{rate_text!r} is not a positive decimal below 1e9 "
                    f"with at most {RATE_DECIMALS} decimals",
                    "INVALID_RATE",
                )
            )
        violations += problems
        if not problems and date is not None and rate is not None:
            rates.append(FxRate(date, base, quote, rate))
    if violations:
        raise InvalidArgument(
            f"{len(violations)} invalid field(s) in rates", "INVALID_RATES", violations=violations
        )
    return rates


def _rate(text: str) -> Decimal | None:
    try:
        rate = Decimal(text.strip())
    except decimal.InvalidOperation:
        return None
    exponent = rate.as_tuple().exponent
    if not rate.is_finite() or rate <= 0 or rate >= _MAX_RATE or not isinstance(exponent, int):
        return None
    return rate if -exponent <= RATE_DECIMALS else None
