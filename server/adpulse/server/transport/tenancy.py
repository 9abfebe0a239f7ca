"""Which tenant a call acts for: the `x-adpulse-tenant` metadata entry, else the default."""

from __future__ import annotations

import grpc

from adpulse.server.domain.tenancy import DEFAULT_TENANT, validate_tenant

TENANT_HEADER = "x-adpulse-tenant"


def tenant_of(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata():
        if key == TENANT_HEADER:
            return validate_tenant(value if isinstance(value, str) else value.decode())
    return DEFAULT_TENANT
