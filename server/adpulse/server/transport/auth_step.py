"""Authentication and authorization of every call, before any handler runs.

Each RPC's access rule (the scope it needs, whether it is audited) comes from its descriptor:
adpulse RPCs declare `option (adpulse.v1.access)`, and the few RPCs of protos that are not ours
(google.longrunning.Operations) get theirs from `FOREIGN_RULES`. `access_rules` refuses a
served RPC without a rule, so the server cannot start with an RPC nobody checks. Health is open
(probes carry no keys), and so is reflection (it tells only what the protos in the repository
tell) unless `reflection_needs_key`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from adpulse.server.domain.access import InactiveKey, Scope, acting_tenant, require_scope
from adpulse.server.domain.audit import DENIED, AuditEvent
from adpulse.server.domain.errors import AdpulseError, PermissionDenied, Unauthenticated
from adpulse.server.domain.tenancy import DEFAULT_TENANT
from adpulse.server.transport.calls import Call, Caller
from adpulse.server.transport.tenancy import TENANT_HEADER
from adpulse.server.usecases.access import Authenticator
from adpulse.v1 import auth_pb2

AUTHORIZATION_HEADER = "authorization"
# Call facts (also in the access log): why this step refused the call, and whose key it was;
# and the tenant an audited call acted on when that is not the tenant it acted for (an
# operator making a tenant's key), which handlers set.
REFUSED = "refused"
REFUSED_KEY = "refused_key_id"
SUBJECT_TENANT = "subject_tenant"
_BEARER = "bearer "
OPEN_SERVICES = frozenset({health.SERVICE_NAME})
REFLECTION_SERVICES = frozenset({reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"})
SCOPES: dict[int, Scope] = {
    auth_pb2.SCOPE_INGEST: Scope.INGEST,
    auth_pb2.SCOPE_READ: Scope.READ,
    auth_pb2.SCOPE_ADMIN: Scope.ADMIN,
    auth_pb2.SCOPE_OPERATOR: Scope.OPERATOR,
}


@dataclass(frozen=True)
class AccessRule:
    scope: Scope
    audited: bool = False


# Operations belong to the tenant that started them; reading their state is reading.
FOREIGN_RULES: Mapping[str, AccessRule] = {
    f"/google.longrunning.Operations/{name}": AccessRule(Scope.READ)
    for name in ("GetOperation", "ListOperations", "WaitOperation", "CancelOperation", "DeleteOperation")
}


class MissingAccessRule(RuntimeError):
    """A served RPC declares no access rule."""


def access_rules(service_names: Iterable[str]) -> dict[str, AccessRule]:
    """The rule of every RPC of the services, by method path (`/package.Service/Method`)."""
    rules: dict[str, AccessRule] = {}
    missing = []
    for name in service_names:
        for method in descriptor_pool.Default().FindServiceByName(name).methods:
            path = f"/{name}/{method.name}"
            declared = method.GetOptions().Extensions[auth_pb2.access]
            if path in FOREIGN_RULES:
                rules[path] = FOREIGN_RULES[path]
            elif declared.scope in SCOPES:
                rules[path] = AccessRule(SCOPES[declared.scope], declared.audited)
            else:
                missing.append(path)
    if missing:
        raise MissingAccessRule(
            "these RPCs declare no `option (adpulse.v1.access)` (see proto/adpulse/v1/auth.proto): "
            + ", ".join(missing)
        )
    return rules


class AuthStep:
    """Sets `call.caller` and `call.tenant`, or refuses the call (UNAUTHENTICATED or
    PERMISSION_DENIED) before any work; on the way out, records every audited call and every
    refused one (by this step or by the handler) in the audit log."""

    def __init__(
        self,
        authenticator: Authenticator,
        rules: Mapping[str, AccessRule],
        *,
        reflection_needs_key: bool,
        audit: Callable[[AuditEvent], None] | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._rules = dict(rules)
        self._reflection_needs_key = reflection_needs_key
        self._audit = audit

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        try:
            self._check(call)
        except AdpulseError as err:
            call.facts[REFUSED] = err.reason
            raise

    def _check(self, call: Call) -> None:
        rule = self._rules.get(call.method)
        if rule is None:
            reflection = call.service in REFLECTION_SERVICES
            if call.service in OPEN_SERVICES or (reflection and not self._reflection_needs_key):
                return
            if not reflection:
                # Served without a rule: refused rather than let through (start-up checks for it).
                raise PermissionDenied(f"{call.method} is not open to any key", "NO_ACCESS_RULE")
        try:
            key = self._authenticator.verify(_bearer_token(call))
        except InactiveKey as err:
            # A revoked or expired key is known: the audit log says whose it was.
            call.facts[REFUSED_KEY], call.facts[SUBJECT_TENANT] = err.metadata["key_id"], err.owner
            raise
        call.caller = Caller(key.key_id, key.tenant, frozenset(str(s) for s in key.scopes))
        if rule is not None:
            require_scope(key.scopes, rule.scope)
        call.tenant = acting_tenant(key, call.header(TENANT_HEADER), DEFAULT_TENANT)

    def exit(self, call: Call) -> None:
        rule = self._rules.get(call.method)
        audited = rule is not None and rule.audited
        if self._audit is None or not (audited or call.code.name in DENIED):
            return
        caller = call.caller
        self._audit(
            AuditEvent(
                action=call.method.lstrip("/"),
                outcome=call.code.name,
                tenant=str(
                    call.facts.get(SUBJECT_TENANT) or call.tenant or (caller.tenant if caller else "")
                ),
                key_id=caller.key_id if caller else str(call.facts.get(REFUSED_KEY, "")),
                target=str(call.facts.get("target", "")),
                peer=call.peer,
                reason=str(call.facts.get(REFUSED, "")),
            )
        )


def _bearer_token(call: Call) -> str:
    values = call.header(AUTHORIZATION_HEADER)
    if not values:
        raise Unauthenticated(
            "this call needs an API key: send `authorization: Bearer adp_<key id>_<secret>`",
            "API_KEY_MISSING",
        )
    if len(values) > 1:
        raise Unauthenticated("the authorization header was sent more than once", "API_KEY_INVALID")
    value = values[0].strip()
    if value[: len(_BEARER)].lower() != _BEARER:
        raise Unauthenticated(
            "the authorization header must be `Bearer adp_<key id>_<secret>`", "API_KEY_INVALID"
        )
    return value[len(_BEARER) :].strip()
