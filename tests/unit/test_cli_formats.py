"""The CLI's one number format and one JSON shape (clients/python/adpulse/cli/render.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from adpulse.cli.completion_cmd import script
from adpulse.cli.main import _for_cli, _parser
from adpulse.cli.render import Percent, cell, message_json, ratio_text
from adpulse.client.analytics_calls import DIMENSIONS, lookup
from adpulse.client.metrics import money_text
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingestion_run_pb2 as rpb


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.04, "0.04000"), (3.1375, "3.138"), (12345.678, "12,346"), (0.0000123456, "0.00001235"), (0.0, "0")],
)
def test_ratios_have_four_significant_digits_and_no_exponent(value: float, text: str) -> None:
    assert ratio_text(value) == text
    assert "e" not in cell(value)


def test_money_percents_and_counts() -> None:
    assert cell(Decimal("1234567.125")) == "1,234,567.12"
    assert cell(Percent(0.12345)) == "12.35%"
    assert cell(1234567) == "1,234,567"
    assert cell(None) == "—"


@pytest.mark.parametrize(
    ("amount", "text"), [("12.5", "12.50"), ("3", "3.00"), ("0.125", "0.125"), ("1.234567", "1.234567")]
)
def test_money_in_json_is_an_exact_decimal_string(amount: str, text: str) -> None:
    assert money_text(Decimal(amount)) == text


def test_message_json_has_numbers_for_integers_and_strings_for_money() -> None:
    row = apb.MetricsRow(platform="meta_ads", currency="EUR")
    row.metrics.impressions = 12_000_000_000
    row.metrics.cost_micros.value = 2_500_000
    row.metrics.ctr.value = 0.5
    run = rpb.IngestionRun(run_id="r1", rows_accepted=3)

    document = json.loads(json.dumps(message_json(apb.QueryMetricsResponse(rows=[row], total_size=1))))

    assert document["rows"][0]["metrics"] == {"impressions": 12_000_000_000, "cost": "2.50", "ctr": 0.5}
    assert document["total_size"] == 1
    assert message_json(run)["rows_accepted"] == 3


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown dimension 'campain'; valid: account, ad, ad_group"):
        lookup(DIMENSIONS, "campain", "dimension")


def test_repeated_by_means_every_dimension() -> None:
    args = _parser().parse_args(["kpis", "--by", "platform", "--by", "campaign", "date"])
    assert args.by == ["platform", "campaign", "date"]


def test_hints_name_commands_not_rpcs() -> None:
    assert _for_cli("no rate for USD on 2026-03-01; load rates with UpsertFxRates") == (
        "no rate for USD on 2026-03-01; load rates with `adpulse fx load FILE`"
    )


def test_completion_knows_commands_and_their_options() -> None:
    bash = script(_parser(), "bash")
    assert "complete -o filenames -F _adpulse adpulse" in bash
    assert "kpis) words=" in bash and "--granularity" in bash
    assert "bashcompinit" in script(_parser(), "zsh")
