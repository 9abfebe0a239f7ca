"""Exchange rates and each tenant's reporting currency; both change what queries answer, so
both bump the tenant's data version after the change is stored."""

from __future__ import annotations

from collections.abc import Sequence

from adpulse.server.domain.errors import FieldViolation, ResourceExhausted
from adpulse.server.domain.fx import parse_rates, validate_currency_code
from adpulse.server.ports import DataVersions, FxRateStore, TenantSettingsStore

MAX_RATES_PER_CALL = 100_000


class CurrencyUseCase:
    def __init__(self, rates: FxRateStore, settings: TenantSettingsStore, versions: DataVersions) -> None:
        self._rates = rates
        self._settings = settings
        self._versions = versions

    def upsert_rates(self, tenant: str, raw: Sequence[tuple[str, str, str, str]]) -> int:
        if len(raw) > MAX_RATES_PER_CALL:
            raise ResourceExhausted(
                f"at most {MAX_RATES_PER_CALL} rates per call",
                "TOO_MANY_RATES",
                violations=[FieldViolation("rates", f"at most {MAX_RATES_PER_CALL}", "TOO_MANY_RATES")],
            )
        rates = parse_rates(raw)
        self._rates.upsert(tenant, rates)
        self._versions.bump(tenant)
        return len(rates)

    def reporting_currency(self, tenant: str) -> str:
        return self._settings.reporting_currency(tenant)

    def set_reporting_currency(self, tenant: str, currency: str) -> str:
        if currency:
            validate_currency_code(currency, "settings.reporting_currency")
        self._settings.set_reporting_currency(tenant, currency)
        self._versions.bump(tenant)
        return currency
