"""Every RPC the server serves, unary and streaming, driven with requests generated from its
descriptor (hypothesis): text with NUL and other control characters, extreme integers and
doubles, extreme and malformed dates, unknown enum values, long lists; a client stream sends a
few such messages in any order. Whatever comes in, no answer is UNKNOWN or INTERNAL, no message
carries a traceback, SQL or a path, and the server is healthy afterwards. The RPCs come from the
server (reflection), so a new one is fuzzed unasked."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse.server.transport.auth_step import OPEN_SERVICES, REFLECTION_SERVICES
from adpulse.v1 import access_service_pb2  # noqa: F401 - registers the descriptors
from tests.support.server import ServerProcess, running_server

LEAKS = re.compile(r"Traceback|File \"|SELECT |INSERT |/work/|/tmp/|\.py\b|psycopg|clickhouse_connect")
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20).map(lambda t: t + "\0\x1b\x7f"),
    st.sampled_from(["", "0001-01-01", "9999-12-31", "2026-02-30", "0000-01", "2026-13", "1969-12-31"]),
    st.sampled_from(["2149-12-31", "1970-01-01", "2026-03-01", "x" * 70_000, "=1+1", "../../etc/passwd"]),
)
_INTS = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, -1, 1, 10**6, 2**31 - 1, -(2**31)]))
_INT64 = st.one_of(_INTS, st.sampled_from([2**63 - 1, -(2**63)]))
_DOUBLES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -1.0, 1e308]))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_TENANT_REQUESTS_PER_SECOND": "100000",
        "ADPULSE_TENANT_REQUEST_BURST": "100000",
        "ADPULSE_MAX_WAIT_SECONDS": "1",
        "ADPULSE_ALERT_ALLOW_LOOPBACK": "false",
    }
    with running_server(tmp_path_factory.mktemp("fuzz") / "data", env) as server:
        yield server


def _methods(server: ServerProcess, *, streaming: bool) -> list[MethodDescriptor]:
    with grpc.insecure_channel(server.address) as channel:
        names = ProtoReflectionDescriptorDatabase(channel).get_services()
    services = [n for n in names if n not in OPEN_SERVICES | REFLECTION_SERVICES]
    return [
        m
        for name in services
        for m in descriptor_pool.Default().FindServiceByName(name).methods
        if (m.client_streaming or m.server_streaming) == streaming
    ]


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kinds: dict[int, st.SearchStrategy[Any]] = {
        FieldDescriptor.TYPE_STRING: _TEXT,
        FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
        FieldDescriptor.TYPE_BOOL: st.booleans(),
        FieldDescriptor.TYPE_DOUBLE: _DOUBLES,
        FieldDescriptor.TYPE_FLOAT: st.floats(width=32),
        FieldDescriptor.TYPE_INT64: _INT64,
        FieldDescriptor.TYPE_SINT64: _INT64,
        FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
        FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    }
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 1000))
    return kinds.get(field.type, _INTS)


def _message(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field name -> value (messages as dicts), some fields unset."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.GetOptions().map_entry:
                value = st.dictionaries(_TEXT, _TEXT, max_size=3)
            elif depth >= 2:
                continue
            else:
                value = _message(field.message_type, depth + 1)
        else:
            value = _scalar(field)
        if field.is_repeated and not (field.message_type and field.message_type.GetOptions().map_entry):
            # Long lists only at the top: 2000 messages each holding 2000 more would be built by
            # this process, not sent (it ran out of memory building one).
            short = st.lists(value, max_size=3)
            long = st.lists(value, min_size=1, max_size=1).map(lambda v: v * 2000)
            value = st.one_of(short, long) if depth == 0 else short
        fields[field.name] = value
    return st.fixed_dictionaries({}, optional=fields)


def _build(cls: type[Message], values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                getattr(message, name).update(value)
            elif field.is_repeated:
                sub = message_factory.GetMessageClass(field.message_type)
                getattr(message, name).extend(_build(sub, v) for v in value)
            else:
                getattr(message, name).CopyFrom(
                    _build(message_factory.GetMessageClass(field.message_type), value)
                )
        elif field.is_repeated:
            getattr(message, name).extend(value)
        else:
            # A value the field's type cannot hold is refused client side, by protobuf.
            with contextlib.suppress(ValueError, TypeError):
                setattr(message, name, value)
    return message


def _fuzz(
    method: MethodDescriptor, call: Any, request_cls: type[Message], metadata: Any, codes: set[str]
) -> None:
    """Calls `method` with generated requests: one message, or for a client stream a few in any
    order; a response stream is read to its end."""
    one = _message(method.input_type)
    requests = st.lists(one, min_size=1, max_size=4) if method.client_streaming else one.map(lambda v: [v])

    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(values=requests)
    def fuzz(values: list[dict[str, Any]]) -> None:
        messages = [_build(request_cls, v) for v in values]
        sent = iter(messages) if method.client_streaming else messages[0]
        try:
            answer = call(sent, metadata=metadata, timeout=30)
            if method.server_streaming:
                for _ in answer:
                    pass
            code, details = "OK", ""
        except grpc.RpcError as err:
            code, details = err.code().name, err.details() or ""  # type: ignore[attr-defined]
        codes.add(code)
        assert code not in {"UNKNOWN", "INTERNAL"}, (method.name, values, details)
        assert not LEAKS.search(details), (method.name, details)

    fuzz()


def _caller(channel: grpc.Channel, method: MethodDescriptor) -> Any:
    kind = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[(method.client_streaming, method.server_streaming)]
    return kind(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=message_factory.GetMessageClass(method.output_type).FromString,
    )


@pytest.mark.parametrize(("streaming", "at_least"), [(False, 20), (True, 4)], ids=["unary", "streaming"])
def test_no_rpc_answers_unknown_or_internal_whatever_it_is_sent(
    fuzz_server: ServerProcess, streaming: bool, at_least: int
) -> None:
    tenant = f"f-{uuid.uuid4().hex[:8]}"
    metadata = (("x-adpulse-tenant", tenant), *fuzz_server.key_metadata)
    methods = _methods(fuzz_server, streaming=streaming)
    assert len(methods) >= at_least
    codes: dict[str, set[str]] = {}
    with grpc.insecure_channel(fuzz_server.address) as channel:
        for method in methods:
            request_cls = message_factory.GetMessageClass(method.input_type)
            seen = codes.setdefault(method.name, set())
            _fuzz(method, _caller(channel, method), request_cls, metadata, seen)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert set(codes) == {m.name for m in methods}
