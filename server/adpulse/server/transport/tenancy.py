"""Which tenant a call acts for, and who makes it: decided by the AuthStep before the handler
runs (see `auth_step`), so handlers never read the headers themselves."""

from __future__ import annotations

import grpc

from adpulse.server.domain.access import Principal, Scope
from adpulse.server.transport.calls import call_of

TENANT_HEADER = "x-adpulse-tenant"


def tenant_of(context: grpc.ServicerContext) -> str:
    tenant = call_of(context).tenant
    if tenant is None:
        raise RuntimeError(f"{call_of(context).method} reached a handler without a tenant")
    return tenant


def principal_of(context: grpc.ServicerContext) -> Principal:
    caller = call_of(context).caller
    if caller is None:
        raise RuntimeError(f"{call_of(context).method} reached a handler without a caller")
    return Principal(caller.key_id, caller.tenant, frozenset(Scope(s) for s in caller.scopes))
