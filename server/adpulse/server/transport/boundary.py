"""The servicer boundary: every failure leaves as a proper status, never a hang.

A kernel panic arrives as pyo3's PanicException, a BaseException; if it escaped a grpcio
handler no status would be sent and the client would wait for its deadline. So the boundary
catches BaseException — except the exceptions that are control flow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc
from grpc_status import rpc_status

from adpulse.server.domain.errors import AdpulseError
from adpulse.server.transport.calls import CallContext
from adpulse.server.transport.status import internal_status, status_of, with_request_info

Servicer = TypeVar("Servicer")
Request = TypeVar("Request")
Response = TypeVar("Response")
_CONTROL_FLOW = (GeneratorExit, KeyboardInterrupt, SystemExit)


def abort(context: grpc.ServicerContext, exc: BaseException) -> NoReturn:
    """Ends the call with the status `exc` stands for (or re-raises control flow)."""
    if isinstance(exc, _CONTROL_FLOW):
        raise exc
    if isinstance(exc, grpc.RpcError) and not context.is_active():
        raise exc  # the client cancelled or went away; there is nobody to answer
    status = status_of(exc) if isinstance(exc, AdpulseError) else internal_status(exc)
    if isinstance(context, CallContext):
        with_request_info(status, context.call.request_id)
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


def unary(
    method: Callable[[Servicer, Request, grpc.ServicerContext], Response],
) -> Callable[[Servicer, Request, grpc.ServicerContext], Response]:
    @functools.wraps(method)
    def handler(self: Servicer, request: Request, context: grpc.ServicerContext) -> Response:
        try:
            return method(self, request, context)
        except BaseException as exc:  # noqa: BLE001 - see the module docstring
            abort(context, exc)

    return handler


def streaming(
    method: Callable[[Servicer, Any, grpc.ServicerContext], Iterator[Response]],
) -> Callable[[Servicer, Any, grpc.ServicerContext], Iterator[Response]]:
    @functools.wraps(method)
    def handler(self: Servicer, requests: Any, context: grpc.ServicerContext) -> Iterator[Response]:
        try:
            yield from method(self, requests, context)
        except BaseException as exc:  # noqa: BLE001 - see the module docstring
            abort(context, exc)

    return handler
