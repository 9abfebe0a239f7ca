"""Errors from the service, with the AIP-193 details already unpacked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class Violation:
    """One bad field the service named, e.g. `rows[3].cost`."""

    field: str
    description: str


@dataclass
class AdpulseError(Exception):
    """A call failed. `code` is the gRPC status code name, e.g. `INVALID_ARGUMENT`."""

    code: str
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> AdpulseError:
        call = err if isinstance(err, grpc.Call) else None
        code = call.code().name if call is not None else "UNKNOWN"
        message = call.details() or "" if call is not None else str(err)
        error = cls(code=code, message=message)
        status = rpc_status.from_call(call) if call is not None else None
        details: list[Any] = list(status.details) if status is not None else []
        for detail in details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                error.reason, error.metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                error.violations = [Violation(v.field, v.description) for v in bad.field_violations]
        return error
