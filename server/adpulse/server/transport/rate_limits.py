"""Fair share: token buckets per API key and per tenant, for calls and (`usecases/fair_share.py`)
for ingested rows.

Each tenant has a bucket of calls (refilled at `tenant_requests_per_second`, holding up to
`tenant_request_burst`) and one of ingest rows; each tenant key has its own bucket of calls
too, so one runaway job cannot spend its tenant's whole share. Operator keys act for many
tenants and are held only by the bucket of the tenant they act for. A call over a bucket is
refused before any work with RESOURCE_EXHAUSTED, RetryInfo (when the bucket has the tokens
again) and QuotaFailure (which bucket). Health and reflection carry no tenant and pass.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from adpulse.server.settings import Settings
from adpulse.server.transport.calls import Call
from adpulse.server.usecases.fair_share import Buckets, Rate, over_rate


class RateLimits:
    """The pipeline step that limits calls (the ingest row quota is `fair_share.RowQuota`)."""

    def __init__(
        self, tenant_requests: Rate, key_requests: Rate, overrides: Mapping[str, Rate] | None = None
    ) -> None:
        overrides = dict(overrides or {})
        self._calls_by_tenant = Buckets(lambda t: overrides.get(t, tenant_requests))
        self._calls_by_key = Buckets(lambda _: key_requests)

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        if call.tenant is None:
            return
        wait = self._calls_by_tenant.take(call.tenant, 1)
        if wait:
            raise over_rate("requests_per_tenant", f"tenant {call.tenant!r} is over its request rate", wait)
        caller = call.caller
        if caller is not None and not caller.is_operator:
            wait = self._calls_by_key.take(caller.key_id, 1)
            if wait:
                raise over_rate("requests_per_key", f"API key {caller.key_id} is over its request rate", wait)

    def exit(self, call: Call) -> None:
        """Calls are counted when they start."""


def rate_limits(settings: Settings) -> RateLimits:
    """The call buckets the settings describe."""
    return RateLimits(
        Rate(settings.tenant_requests_per_second, settings.tenant_request_burst),
        Rate(settings.key_requests_per_second, settings.key_request_burst),
        {tenant: Rate(requests, 2 * requests) for tenant, requests, _ in settings.tenant_rate_overrides},
    )
