"""The call pipeline on a real grpcio server: every step sees every call, a refusal is the
call's status, and the record counts what went in and out."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from adpulse.server.domain.errors import PermissionDenied
from adpulse.server.transport import boundary
from adpulse.server.transport.calls import Call, CallPipeline, call_of

ECHO = "/test.Echo/"


class Recorder:
    def __init__(self, refuse: str = "") -> None:
        self.entered: list[Call] = []
        self.exited: list[Call] = []
        self.refuse = refuse

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        self.entered.append(call)
        if self.refuse and call.method.endswith(self.refuse):
            raise PermissionDenied("not you", reason="TEST_REFUSED")

    def exit(self, call: Call) -> None:
        self.exited.append(call)


def _echo_handlers() -> grpc.GenericRpcHandler:
    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        assert call_of(context).method == ECHO + "Unary"
        return request * 2

    def stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        yield from requests

    def fail(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.NOT_FOUND, "nothing here")
        return b""

    def refused(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise AssertionError("a refused call reached its handler")

    return grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.stream_stream_rpc_method_handler(stream),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Refused": grpc.unary_unary_rpc_method_handler(refused),
        },
    )


@pytest.fixture
def served() -> Iterator[tuple[grpc.Channel, Recorder, Recorder]]:
    outer, inner = Recorder(), Recorder(refuse="Refused")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=[CallPipeline((outer, inner), boundary.abort)]
    )
    server.add_generic_rpc_handlers((_echo_handlers(),))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, outer, inner
    server.stop(0)


def _call(channel: grpc.Channel, name: str, payload: Any, *, stream: bool = False) -> Any:
    if stream:
        return list(channel.stream_stream(ECHO + name)(iter(payload)))
    return channel.unary_unary(ECHO + name)(payload, metadata=(("x-request-id", "req-1"),))


def test_every_step_sees_each_call_in_order(served: tuple[grpc.Channel, Recorder, Recorder]) -> None:
    channel, outer, inner = served
    assert _call(channel, "Unary", b"ab") == b"abab"
    assert _call(channel, "Stream", [b"x", b"yz", b"w"], stream=True) == [b"x", b"yz", b"w"]
    unary, stream = outer.exited
    assert unary is inner.exited[0], "one record per call, shared by the steps"
    assert (unary.request_id, unary.code) == ("req-1", grpc.StatusCode.OK)
    assert (unary.bytes_in, unary.bytes_out) == (2, 4)
    assert (stream.messages_in, stream.messages_out, stream.bytes_in) == (3, 3, 4)
    assert len(stream.request_id) == 32, "a request id is made up when the client sends none"


def test_a_refusal_is_the_status_and_the_handler_never_runs(
    served: tuple[grpc.Channel, Recorder, Recorder],
) -> None:
    channel, outer, _ = served
    with pytest.raises(grpc.RpcError) as err:
        _call(channel, "Refused", b"")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert outer.exited[-1].code == grpc.StatusCode.PERMISSION_DENIED


def test_the_handlers_own_status_is_recorded(served: tuple[grpc.Channel, Recorder, Recorder]) -> None:
    channel, outer, _ = served
    with pytest.raises(grpc.RpcError) as err:
        _call(channel, "Fail", b"")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert outer.exited[-1].code == grpc.StatusCode.NOT_FOUND
    stub = health_pb2_grpc.HealthStub(channel)
    assert stub.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    assert outer.exited[-1].method == "/grpc.health.v1.Health/Check"
