"""Settings from the environment: defaults, overrides and refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adpulse.server.settings import Settings, SettingsError


def test_defaults_are_the_embedded_shape() -> None:
    settings = Settings.from_env({})
    assert settings.listen == "127.0.0.1:50051"
    assert settings.postgres_dsn is None
    assert settings.effective_clickhouse_dsn == f"chdb://{Path('.adpulse/clickhouse').resolve()}"
    assert settings.restatement.days("google_ads") == 14
    assert settings.restatement.days("meta_ads") == 28


def test_restatement_windows_can_be_overridden() -> None:
    settings = Settings.from_env({"ADPULSE_RESTATEMENT_DAYS": "linkedin_ads=30, tiktok_ads=5"})
    assert settings.restatement.days("linkedin_ads") == 30
    assert settings.restatement.days("tiktok_ads") == 5
    assert settings.restatement.days("google_ads") == 14
    assert settings.restatement.provisional_from("linkedin_ads", dt.date(2026, 3, 31)) == dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    "env",
    [
        {"ADPULSE_RESTATEMENT_DAYS": "linkedin_ads"},
        {"ADPULSE_GRPC_WORKERS": "many"},
        {"ADPULSE_GRPC_WORKERS": "1"},
        {"ADPULSE_REFLECTION": "perhaps"},
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_the_clickhouse_cluster_shape_needs_servers_and_a_cluster_name() -> None:
    http = {"ADPULSE_CLICKHOUSE_DSN": "http://ch:8123/adpulse"}
    assert Settings.from_env(http).clickhouse_cluster == ""  # one node unless named
    assert (
        Settings.from_env({**http, "ADPULSE_CLICKHOUSE_CLUSTER": "adpulse"}).clickhouse_cluster == "adpulse"
    )
    with pytest.raises(SettingsError, match="ADPULSE_CLICKHOUSE_CLUSTER must be a cluster name"):
        Settings.from_env({**http, "ADPULSE_CLICKHOUSE_CLUSTER": "a'; DROP"})
    with pytest.raises(SettingsError, match="needs ClickHouse servers"):
        Settings.from_env({"ADPULSE_CLICKHOUSE_CLUSTER": "adpulse"})  # the embedded engine
