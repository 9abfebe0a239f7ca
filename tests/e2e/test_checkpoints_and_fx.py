"""Loader checkpoints, and reporting in one currency through daily exchange rates."""

from __future__ import annotations

import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import ingestion_run_pb2 as rpb
from tests.support.facts import to_csv
from tests.support.server import ServerProcess

# -- checkpoints


def test_a_checkpoint_is_not_found_until_set_then_says_where_to_reload(client: AdpulseClient) -> None:
    with pytest.raises(AdpulseError) as caught:
        client.checkpoint("meta_ads", "acct-1")
    assert caught.value.code == "NOT_FOUND"

    stored = client.update_checkpoint(
        rpb.Checkpoint(source="meta_ads", name="acct-1", cursor="page-7", newest_data_date="2026-03-31")
    )

    assert client.checkpoint("meta_ads", "acct-1") == stored
    assert (stored.cursor, stored.restatement_days) == ("page-7", 28)
    assert stored.reload_from == "2026-03-04"  # 28 days of Meta restatements end on 2026-03-31
    assert client.checkpoint("meta_ads", "acct-1").HasField("update_time")


def test_a_checkpoint_can_be_compare_and_set(client: AdpulseClient) -> None:
    first = rpb.Checkpoint(source="google_ads", cursor="a", newest_data_date="2026-03-10")
    client.update_checkpoint(first, expected_cursor="")
    with pytest.raises(AdpulseError) as caught:
        client.update_checkpoint(rpb.Checkpoint(source="google_ads", cursor="b"), expected_cursor="stale")
    assert (caught.value.code, caught.value.reason) == ("ABORTED", "CHECKPOINT_MOVED")

    moved = client.update_checkpoint(rpb.Checkpoint(source="google_ads", cursor="b"), expected_cursor="a")

    assert moved.cursor == "b" and moved.reload_from == ""
    assert client.checkpoint("google_ads").cursor == "b"


def test_checkpoints_name_a_known_source_and_a_real_date(client: AdpulseClient) -> None:
    for checkpoint, field in (
        (rpb.Checkpoint(source="myspace"), "source"),
        (rpb.Checkpoint(source="generic", newest_data_date="2026-02-30"), "checkpoint.newest_data_date"),
    ):
        with pytest.raises(AdpulseError) as caught:
            client.update_checkpoint(checkpoint)
        assert caught.value.code == "INVALID_ARGUMENT"
        assert [v.field for v in caught.value.violations] == [field]


# -- currency

ROWS = [
    ["2026-03-01", "google_ads", "a1", "c1", "", "g", "eur-1", "EUR", "100", "10", "10.000001", "1", "30.00"],
    ["2026-03-02", "google_ads", "a1", "c1", "", "g", "eur-2", "EUR", "100", "10", "20.00", "1", "0"],
    ["2026-03-01", "meta_ads", "a2", "c2", "", "g", "usd-1", "USD", "100", "10", "5.55", "0", "0"],
    ["2026-03-01", "meta_ads", "a3", "c3", "", "g", "gbp-1", "GBP", "100", "10", "1.00", "0", "0"],
]
RATES = [
    ("2026-03-01", "EUR", "USD", "1.083300000001"),
    ("2026-03-02", "EUR", "USD", "1.0901"),
    ("2026-03-01", "GBP", "USD", "1.2666"),
]


@pytest.fixture
def loaded(client: AdpulseClient, tmp_path: Path) -> AdpulseClient:
    path = tmp_path / "multi.csv"
    path.write_text(to_csv(ROWS))
    client.ingest_files([path])
    return client


def _usd(amount: str, rate: str) -> Decimal:
    """The reference: convert a row at its date's rate, round half-even to micros."""
    micros = (Decimal(amount) * 1_000_000 * Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return micros / 1_000_000


def test_money_is_reported_in_one_currency_at_each_rows_date_rate(loaded: AdpulseClient) -> None:
    assert loaded.upsert_fx_rates(RATES) == 3

    result = loaded.query_metrics(by=["platform"], currency="USD")

    rows = {r.dimensions["platform"]: r for r in result.rows}
    google = _usd("10.000001", RATES[0][3]) + _usd("20.00", RATES[1][3])
    assert rows["google_ads"].cost == google and rows["google_ads"].currency == "USD"
    assert rows["google_ads"].revenue == _usd("30.00", RATES[0][3])
    assert rows["meta_ads"].cost == Decimal("5.55") + _usd("1.00", RATES[2][3])
    assert result.totals.cost == google + rows["meta_ads"].cost and result.totals.currency == "USD"


def test_a_missing_rate_names_currency_and_date_never_a_silent_one(loaded: AdpulseClient) -> None:
    loaded.upsert_fx_rates(RATES[:2])  # no GBP rate

    with pytest.raises(AdpulseError) as caught:
        loaded.query_metrics(currency="USD")

    assert (caught.value.code, caught.value.reason) == ("FAILED_PRECONDITION", "MISSING_FX_RATE")
    assert "GBP" in caught.value.message and "2026-03-01" in caught.value.message
    assert caught.value.metadata["missing.GBP"] == "2026-03-01"


def test_the_tenants_reporting_currency_is_the_default(loaded: AdpulseClient) -> None:
    loaded.upsert_fx_rates(
        [*RATES, ("2026-03-01", "USD", "EUR", "0.92"), ("2026-03-01", "GBP", "EUR", "1.17")]
    )
    assert loaded.tenant_settings().reporting_currency == ""

    loaded.update_tenant_settings(reporting_currency="USD")

    assert loaded.query_metrics().totals.currency == "USD"
    assert loaded.query_metrics(currency="EUR", end="2026-03-01").totals.currency == "EUR"
    loaded.update_tenant_settings(reporting_currency="")
    assert loaded.query_metrics().totals.currency is None  # mixed again, money undefined


def test_bad_rates_are_named_by_index_and_field(client: AdpulseClient) -> None:
    with pytest.raises(AdpulseError) as caught:
        client.upsert_fx_rates([("2026-03-01", "EUR", "USD", "1.1"), ("2026-02-30", "eur", "USD", "-1")])
    assert caught.value.code == "INVALID_ARGUMENT"
    assert {v.field for v in caught.value.violations} == {
        "rates[1].date",
        "rates[1].base_currency",
        "rates[1].rate",
    }


def test_the_cli_loads_rates_and_reports_in_a_currency(
    server: ServerProcess, tenant: str, loaded: AdpulseClient, tmp_path: Path
) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "date,base_currency,quote_currency,rate\n" + "\n".join(",".join(r) for r in RATES) + "\n"
    )
    cli = [str(Path(sys.executable).parent / "adpulse"), "--target", server.address, "--tenant", tenant]
    cli += ["--api-key", server.admin_key]

    load = subprocess.run([*cli, "fx", "load", str(rates)], capture_output=True, text=True, check=False)
    kpis = subprocess.run(
        [*cli, "kpis", "--currency", "USD", "--json"], capture_output=True, text=True, check=False
    )

    assert load.returncode == 0 and "upserted 3 rates" in load.stdout, load.stderr
    assert kpis.returncode == 0, kpis.stderr
    assert '"currency": "USD"' in kpis.stdout
