"""adpulse.v1.AccessService over the access use case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import grpc

from adpulse.server.domain.access import ApiKey, KeyState, Scope
from adpulse.server.domain.audit import AuditEvent, AuditQuery
from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.transport import boundary, convert, page_token
from adpulse.server.transport.auth_step import SCOPES, SUBJECT_TENANT
from adpulse.server.transport.calls import call_of
from adpulse.server.transport.tenancy import principal_of, tenant_of
from adpulse.server.usecases.access import AccessUseCase
from adpulse.server.usecases.audit import AuditUseCase
from adpulse.v1 import access_service_pb2 as pb
from adpulse.v1 import access_service_pb2_grpc as pb_grpc

SCOPES_TO_PROTO: dict[Scope, Any] = {scope: proto for proto, scope in SCOPES.items()}
KEY_STATES = {
    KeyState.ACTIVE: pb.API_KEY_STATE_ACTIVE,
    KeyState.EXPIRED: pb.API_KEY_STATE_EXPIRED,
    KeyState.REVOKED: pb.API_KEY_STATE_REVOKED,
}


class AccessServicer(pb_grpc.AccessServiceServicer):
    def __init__(self, access: AccessUseCase, audit: AuditUseCase) -> None:
        self._access = access
        self._audit = audit

    @boundary.unary
    def CreateTenant(  # noqa: N802 - the RPC's name
        self, request: pb.CreateTenantRequest, context: grpc.ServicerContext
    ) -> pb.Tenant:
        tenant = self._access.create_tenant(request.name)
        _acted_on(context, f"tenants/{tenant.name}", tenant.name)
        return pb.Tenant(name=tenant.name, create_time=convert.timestamp(tenant.created_at))

    @boundary.unary
    def ListTenants(  # noqa: N802 - the RPC's name
        self, request: pb.ListTenantsRequest, context: grpc.ServicerContext
    ) -> pb.ListTenantsResponse:
        bound_to = page_token.fingerprint("", request)
        offset = page_token.decode(request.page_token, bound_to)
        found, more = self._access.list_tenants(offset, request.page_size)
        return pb.ListTenantsResponse(
            tenants=[pb.Tenant(name=t.name, create_time=convert.timestamp(t.created_at)) for t in found],
            next_page_token=page_token.encode(offset + len(found), bound_to) if more else "",
        )

    @boundary.unary
    def CreateApiKey(  # noqa: N802 - the RPC's name
        self, request: pb.CreateApiKeyRequest, context: grpc.ServicerContext
    ) -> pb.CreateApiKeyResponse:
        created = self._access.create_key(
            principal_of(context),
            tenant_of(context),
            request.tenant,
            _scopes(request.scopes),
            request.name,
            self._expiry(request),
        )
        _acted_on(context, f"keys/{created.key.key_id}", created.key.tenant)
        return pb.CreateApiKeyResponse(key=created.text, api_key=self._key(created.key))

    @boundary.unary
    def ListApiKeys(  # noqa: N802 - the RPC's name
        self, request: pb.ListApiKeysRequest, context: grpc.ServicerContext
    ) -> pb.ListApiKeysResponse:
        actor = principal_of(context)
        bound_to = page_token.fingerprint(actor.key_id, request)
        offset = page_token.decode(request.page_token, bound_to)
        found, more = self._access.list_keys(
            actor, request.tenant, request.show_inactive, offset, request.page_size
        )
        return pb.ListApiKeysResponse(
            api_keys=[self._key(k) for k in found],
            next_page_token=page_token.encode(offset + len(found), bound_to) if more else "",
        )

    @boundary.unary
    def RevokeApiKey(  # noqa: N802 - the RPC's name
        self, request: pb.RevokeApiKeyRequest, context: grpc.ServicerContext
    ) -> pb.ApiKey:
        call_of(context).facts["target"] = f"keys/{request.key_id}"
        revoked = self._access.revoke_key(principal_of(context), request.key_id)
        _acted_on(context, f"keys/{revoked.key_id}", revoked.tenant)
        return self._key(revoked)

    @boundary.unary
    def ListAuditEvents(  # noqa: N802 - the RPC's name
        self, request: pb.ListAuditEventsRequest, context: grpc.ServicerContext
    ) -> pb.ListAuditEventsResponse:
        actor = principal_of(context)
        bound_to = page_token.fingerprint(actor.key_id, request)
        before = page_token.decode(request.page_token, bound_to)  # 0: from the newest
        query = AuditQuery(
            tenant=request.tenant or None,
            since=convert.datetime_of(request.start_time, request.HasField("start_time")),
            until=convert.datetime_of(request.end_time, request.HasField("end_time")),
            key_id=request.key_id,
            denied_only=request.denied_only,
            before_id=before or None,
        )
        found, more = self._audit.list(actor, query, request.page_size)
        return pb.ListAuditEventsResponse(
            audit_events=[_event(e) for e in found],
            next_page_token=page_token.encode(found[-1].event_id, bound_to) if more else "",
        )

    def _expiry(self, request: pb.CreateApiKeyRequest) -> dt.datetime | None:
        which = request.WhichOneof("expiration")
        if which == "expire_time":
            return request.expire_time.ToDatetime(tzinfo=dt.UTC)
        if which == "ttl":
            return self._access.now() + request.ttl.ToTimedelta()
        return None

    def _key(self, key: ApiKey) -> pb.ApiKey:
        return pb.ApiKey(
            key_id=key.key_id,
            name=key.name,
            tenant=key.tenant,
            scopes=[SCOPES_TO_PROTO[s] for s in sorted(key.scopes, key=list(Scope).index)],
            create_time=convert.timestamp(key.created_at),
            last_use_time=convert.timestamp(key.last_used_at),
            expire_time=convert.timestamp(key.expires_at),
            revoke_time=convert.timestamp(key.revoked_at),
            state=KEY_STATES[key.state(self._access.now())],
        )


def _acted_on(context: grpc.ServicerContext, target: str, tenant: str) -> None:
    """What the call changed, for the audit log: its target, and the tenant it belongs to
    ("" for an operator key's, which then counts as the call's own)."""
    facts = call_of(context).facts
    facts["target"] = target
    if tenant:
        facts[SUBJECT_TENANT] = tenant


def _event(event: AuditEvent) -> pb.AuditEvent:
    return pb.AuditEvent(
        event_id=event.event_id,
        time=convert.timestamp(event.at),
        tenant=event.tenant,
        key_id=event.key_id,
        action=event.action,
        target=event.target,
        peer=event.peer,
        outcome=event.outcome,
        reason=event.reason,
    )


def _scopes(values: Iterable[int]) -> list[Scope]:
    unknown = [i for i, v in enumerate(values) if v not in SCOPES]
    if unknown:
        raise InvalidArgument(
            "scopes must be SCOPE_INGEST, SCOPE_READ, SCOPE_ADMIN or SCOPE_OPERATOR",
            "INVALID_SCOPE",
            violations=[FieldViolation(f"scopes[{i}]", "not a scope", "INVALID_SCOPE") for i in unknown],
        )
    return [SCOPES[v] for v in values]
