"""Tenant settings, tenants and API keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.protobuf import duration_pb2

from adpulse.client.connection import Connection
from adpulse.v1 import access_service_pb2 as acpb
from adpulse.v1 import auth_pb2
from adpulse.v1 import tenant_service_pb2 as tpb

SCOPES = {
    "ingest": auth_pb2.SCOPE_INGEST,
    "read": auth_pb2.SCOPE_READ,
    "admin": auth_pb2.SCOPE_ADMIN,
    "operator": auth_pb2.SCOPE_OPERATOR,
}
SCOPE_NAMES = {value: name for name, value in SCOPES.items()}


class AccessCalls(Connection):
    def tenant_settings(self) -> tpb.TenantSettings:
        return self._call(self._tenants.GetTenantSettings, tpb.GetTenantSettingsRequest())

    def update_tenant_settings(
        self, *, reporting_currency: str | None = None, retention_days: int | None = None
    ) -> tpb.TenantSettings:
        """Changes the settings given; the others stay as they are."""
        request = tpb.UpdateTenantSettingsRequest()
        if reporting_currency is not None:
            request.settings.reporting_currency = reporting_currency
            request.update_mask.paths.append("reporting_currency")
        if retention_days is not None:
            request.settings.retention_days = retention_days
            request.update_mask.paths.append("retention_days")
        if not request.update_mask.paths:
            raise ValueError("name at least one setting to change")
        return self._call(self._tenants.UpdateTenantSettings, request)

    def create_tenant(self, name: str) -> acpb.Tenant:
        return self._call(self._access.CreateTenant, acpb.CreateTenantRequest(name=name))

    def tenants(self) -> list[acpb.Tenant]:
        """Every registered tenant (operators only)."""
        return self._every_page(self._access.ListTenants, acpb.ListTenantsRequest(page_size=1000), "tenants")

    def create_api_key(
        self,
        scopes: Sequence[str],
        *,
        tenant: str = "",
        name: str = "",
        ttl: dt.timedelta | None = None,
    ) -> acpb.CreateApiKeyResponse:
        """A new key of `tenant` (default: the client's) with `scopes` (ingest, read, admin; or
        operator alone). Its `key` is shown this once."""
        request = acpb.CreateApiKeyRequest(tenant=tenant, scopes=[SCOPES[s] for s in scopes], name=name)
        if ttl is not None:
            request.ttl.CopyFrom(duration_pb2.Duration(seconds=int(ttl.total_seconds())))
        response: acpb.CreateApiKeyResponse = self._call(self._access.CreateApiKey, request)
        return response

    def api_keys(self, *, tenant: str = "", show_inactive: bool = False) -> list[acpb.ApiKey]:
        """Keys newest first (all pages): an admin's tenant's, or an operator's every key."""
        request = acpb.ListApiKeysRequest(tenant=tenant, show_inactive=show_inactive, page_size=1000)
        return self._every_page(self._access.ListApiKeys, request, "api_keys")

    def audit_events(
        self,
        *,
        tenant: str = "",
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        key_id: str = "",
        denied_only: bool = False,
        limit: int | None = None,
    ) -> list[acpb.AuditEvent]:
        """The audit log, newest first (up to `limit`): an admin's tenant's, an operator's
        every tenant's or `tenant`'s."""
        request = acpb.ListAuditEventsRequest(
            tenant=tenant, key_id=key_id, denied_only=denied_only, page_size=min(limit or 1000, 1000)
        )
        if since is not None:
            request.start_time.FromDatetime(since)
        if until is not None:
            request.end_time.FromDatetime(until)
        return self._every_page(self._access.ListAuditEvents, request, "audit_events", limit)

    def revoke_api_key(self, key_id: str) -> acpb.ApiKey:
        return self._call(self._access.RevokeApiKey, acpb.RevokeApiKeyRequest(key_id=key_id))
