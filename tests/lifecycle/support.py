"""What the lifecycle tests share: a tenant with something in every store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from tests.support.facts import Fact, to_csv


@dataclass(frozen=True)
class Stocked:
    """What `stock` stored for a tenant."""

    facts: list[Fact]
    upload_path: str
    export_name: str


def facts_on(days: list[dt.date], campaign: str) -> list[Fact]:
    return [
        Fact(day, "google_ads", "acc-1", campaign, f"Campaign {campaign}", "ag-1", f"ad-{i}", "USD",
             1000 + i, 10 + i, Decimal("12.345678") + i, Decimal("1.5"), Decimal("99.99"))
        for i, day in enumerate(days)
    ]  # fmt: skip


def stock(client: AdpulseClient, tmp: Path, facts: list[Fact], *, retention_days: int = 0) -> Stocked:
    """Facts, a run, settings, a budget, rates, an alert subscription, an upload and an export."""
    local = tmp / f"facts-{facts[0].campaign_id}.csv"
    local.write_text(to_csv(f.csv_values() for f in facts))
    assert client.ingest_files([local]).accepted == len(facts)
    client.update_tenant_settings(reporting_currency="", retention_days=retention_days)
    first = facts[0]
    client.set_budget(
        platform=first.platform,
        account_id=first.account_id,
        campaign_id=first.campaign_id,
        month=first.date.strftime("%Y-%m"),
        amount_micros=5_000_000_000,
        currency="USD",
    )
    client.upsert_fx_rates([(first.date.isoformat(), "EUR", "USD", "1.1")])
    client.create_alert_subscription("http://127.0.0.1:9/hook", display_name="lifecycle")
    upload = client.upload_file(local)
    export = client.wait_operation(client.export_metrics(apb.ExportMetricsRequest()).name)
    assert export.error is None
    return Stocked(facts, upload.path, export.name)


def fact_total(client: AdpulseClient) -> tuple[int, Decimal]:
    """(impressions, cost) of every stored fact of the client's tenant."""
    totals = client.query_metrics().totals
    return totals.impressions, totals.cost
