"""Parsing of the query language parts that need no server: order_by, dates, page tokens."""

from __future__ import annotations

import pytest

from adpulse.server.domain.errors import InvalidArgument
from adpulse.server.domain.metrics_query import Dimension, OrderKey, clamp_page_size, parse_order_by
from adpulse.server.transport import page_token


def test_order_by_follows_aip_132() -> None:
    got = parse_order_by(" cost desc,campaign ,ctr asc", (Dimension.CAMPAIGN,))
    assert got == (OrderKey("cost_micros", True), OrderKey("campaign_id"), OrderKey("ctr"))


@pytest.mark.parametrize("text", ["cost up", "bogus", "cost desc extra", "date"])
def test_bad_order_by_is_invalid(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_order_by(text, (Dimension.PLATFORM,))


def test_page_sizes_follow_aip_158() -> None:
    assert (clamp_page_size(0), clamp_page_size(5), clamp_page_size(10**6)) == (100, 5, 1000)
    with pytest.raises(InvalidArgument):
        clamp_page_size(-1)


def test_page_tokens_round_trip_and_refuse_tampering() -> None:
    token = page_token.encode(300, "abc")
    assert page_token.decode(token, "abc") == 300
    assert page_token.decode("", "abc") == 0
    for bad, fingerprint in ((token, "other"), ("%%%", "abc"), (page_token.encode(-1, "abc"), "abc")):
        with pytest.raises(InvalidArgument):
            page_token.decode(bad, fingerprint)
