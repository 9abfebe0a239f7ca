"""Exchange-rate validation: exact decimals, every bad field named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpulse.server.domain.errors import InvalidArgument
from adpulse.server.domain.fx import RATE_DECIMALS, parse_rates


@given(
    rate=st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("999999999"), places=RATE_DECIMALS),
    day=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
)
def test_valid_rates_keep_their_exact_value(rate: Decimal, day: dt.date) -> None:
    (parsed,) = parse_rates([(day.isoformat(), "EUR", "USD", str(rate))])
    assert parsed.rate == rate and parsed.date == day


@pytest.mark.parametrize(
    ("row", "fields"),
    [
        (("2026-03-01", "EUR", "USD", "0"), {"rates[0].rate"}),
        (("2026-03-01", "EUR", "USD", "1.0000000000001"), {"rates[0].rate"}),
        (("2026-03-01", "EUR", "USD", "NaN"), {"rates[0].rate"}),
        (("2026-03-01", "EUR", "EUR", "1"), {"rates[0].quote_currency"}),
        (("2026-3-1", "euro", "USD", "x"), {"rates[0].date", "rates[0].base_currency", "rates[0].rate"}),
    ],
)
def test_every_bad_field_is_named(row: tuple[str, str, str, str], fields: set[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_rates([row])
    assert {v.field for v in caught.value.violations} == fields
