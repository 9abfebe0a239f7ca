"""Every RPC the server serves × {no key, bad key, revoked key, wrong scope, other tenant, right
key}. The RPCs come from the server itself (reflection) and their descriptors, so an RPC added
later is in the matrix without anyone editing this file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.server.domain.access import TENANT_SCOPES, Scope
from adpulse.server.transport.auth_step import OPEN_SERVICES, REFLECTION_SERVICES, access_rules
from adpulse.v1 import access_service_pb2 as acpb  # noqa: F401 - registers the descriptors
from tests.support.server import ServerProcess

REFUSALS = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
UNKNOWN_KEY = "adp_0123456789abcdef_" + "A" * 43


@dataclass(frozen=True)
class Keys:
    tenant: str
    other_tenant: str
    only: dict[Scope, str]  # a key of `tenant` holding just this scope
    all_but: dict[Scope, str]  # a key of `tenant` holding every tenant scope but this one
    other: dict[Scope, str]  # a key of `other_tenant` holding just this scope
    revoked: dict[Scope, str]  # a revoked key of `tenant` (or operator key) with this scope
    operator: str


def _served_methods(server: ServerProcess) -> list[MethodDescriptor]:
    with grpc.insecure_channel(server.address) as channel:
        names = ProtoReflectionDescriptorDatabase(channel).get_services()
    services = [n for n in names if n not in OPEN_SERVICES | REFLECTION_SERVICES]
    return [m for name in services for m in descriptor_pool.Default().FindServiceByName(name).methods]


@pytest.fixture(scope="module")
def keys(server: ServerProcess) -> Keys:
    tenant, other_tenant = f"m-{uuid.uuid4().hex[:10]}", f"n-{uuid.uuid4().hex[:10]}"
    with AdpulseClient(server.address, api_key=server.admin_key) as operator:
        for name in (tenant, other_tenant):
            operator.create_tenant(name)

        def make(owner: str, scopes: set[Scope]) -> str:
            return operator.create_api_key(sorted(scopes), tenant=owner, name="matrix").key

        revoked = {s: make(tenant, {s}) for s in TENANT_SCOPES}
        revoked[Scope.OPERATOR] = operator.create_api_key(["operator"], name="matrix").key
        for key in revoked.values():
            operator.revoke_api_key(key.split("_")[1])
        return Keys(
            tenant=tenant,
            other_tenant=other_tenant,
            only={s: make(tenant, {s}) for s in TENANT_SCOPES},
            all_but={s: make(tenant, set(TENANT_SCOPES - {s})) for s in TENANT_SCOPES},
            other={s: make(other_tenant, {s}) for s in TENANT_SCOPES},
            revoked=revoked,
            operator=server.admin_key,
        )


def _call(
    server: ServerProcess, method: MethodDescriptor, metadata: list[tuple[str, str]]
) -> grpc.RpcError | None:
    """Calls `method` with an empty request (one message on a stream); its error, None if OK."""
    request = message_factory.GetMessageClass(method.input_type)
    response = message_factory.GetMessageClass(method.output_type)
    path = f"/{method.containing_service.full_name}/{method.name}"
    kinds = {
        (False, False): "unary_unary",
        (False, True): "unary_stream",
        (True, False): "stream_unary",
        (True, True): "stream_stream",
    }
    with grpc.insecure_channel(server.address) as channel:
        stub = getattr(channel, kinds[method.client_streaming, method.server_streaming])(
            path, request_serializer=request.SerializeToString, response_deserializer=response.FromString
        )
        argument = iter([request()]) if method.client_streaming else request()
        try:
            answer = stub(argument, metadata=metadata, timeout=30)
            if method.server_streaming:
                list(answer)
        except grpc.RpcError as err:
            return err
    return None


def _cases(
    keys: Keys, scope: Scope
) -> Iterator[tuple[str, list[tuple[str, str]], set[grpc.StatusCode] | None]]:
    """(case, metadata, the codes it must end with; None: anything but a refusal)."""
    bearer = "authorization"
    own = [("x-adpulse-tenant", keys.tenant)]
    operator = scope is Scope.OPERATOR
    right = keys.operator if operator else keys.only[scope]
    yield "no key", own, {grpc.StatusCode.UNAUTHENTICATED}
    yield "bad key", [(bearer, f"Bearer {UNKNOWN_KEY}"), *own], {grpc.StatusCode.UNAUTHENTICATED}
    yield "revoked", [(bearer, f"Bearer {keys.revoked[scope]}"), *own], {grpc.StatusCode.UNAUTHENTICATED}
    wrong = keys.only[Scope.ADMIN] if operator else keys.all_but[scope]
    yield "wrong scope", [(bearer, f"Bearer {wrong}"), *own], {grpc.StatusCode.PERMISSION_DENIED}
    other = keys.other[Scope.ADMIN if operator else scope]
    yield "other tenant", [(bearer, f"Bearer {other}"), *own], {grpc.StatusCode.PERMISSION_DENIED}
    yield "right key", [(bearer, f"Bearer {right}"), *own], None


def test_every_rpc_checks_its_key_scope_and_tenant(server: ServerProcess, keys: Keys) -> None:
    methods = _served_methods(server)
    rules = access_rules({m.containing_service.full_name for m in methods})
    assert {m.containing_service.full_name for m in methods} >= {
        "adpulse.v1.IngestService",
        "adpulse.v1.AnalyticsService",
        "adpulse.v1.TenantService",
        "adpulse.v1.AccessService",
        "adpulse.v1.AlertService",
        "google.longrunning.Operations",
    }
    failures = []
    for method in methods:
        path = f"/{method.containing_service.full_name}/{method.name}"
        for case, metadata, expected in _cases(keys, rules[path].scope):
            err = _call(server, method, metadata)
            code = grpc.StatusCode.OK if err is None else err.code()  # type: ignore[attr-defined]
            ok = (
                code in expected
                if expected is not None
                else code not in REFUSALS | {grpc.StatusCode.UNIMPLEMENTED}
            )
            if not ok:
                details = err.details() if err is not None else ""  # type: ignore[attr-defined]
                failures.append(f"{path} [{case}]: {code.name} {details}")
    assert not failures, "\n".join(failures)
    assert len(methods) >= 30


def test_a_wrong_scope_names_the_scope_needed(server: ServerProcess, keys: Keys) -> None:
    with (
        AdpulseClient(server.address, api_key=keys.all_but[Scope.READ]) as client,
        pytest.raises(AdpulseError) as caught,
    ):
        client.query_metrics()
    error = caught.value
    assert (error.code, error.reason, error.metadata) == (
        "PERMISSION_DENIED",
        "SCOPE_MISSING",
        {"required_scope": "read"},
    )
    assert "`read` scope" in str(error)
