"""Long-running operations as plain values: state, progress, and the result or the error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2

from adpulse.v1 import operation_pb2 as opb

_RESPONSES: dict[int, type[Message]] = {
    opb.OPERATION_KIND_IMPORT_FILE: opb.ImportFileResponse,
    opb.OPERATION_KIND_EXPORT_METRICS: opb.ExportMetricsResponse,
    opb.OPERATION_KIND_BACKFILL: opb.BackfillResponse,
    opb.OPERATION_KIND_DAILY_SCAN: opb.DailyScanResponse,
    opb.OPERATION_KIND_EXPORT_TENANT_DATA: opb.ExportTenantDataResponse,
    opb.OPERATION_KIND_DELETE_TENANT_DATA: opb.DeleteTenantDataResponse,
}


@dataclass(frozen=True)
class OperationFailure:
    """Why a done operation did not succeed: the status code name, message and ErrorInfo reason."""

    code: str
    message: str
    reason: str


@dataclass(frozen=True)
class Operation:
    """A google.longrunning.Operation of adpulse, unpacked."""

    name: str
    done: bool
    metadata: opb.OperationMetadata
    response: Any = None
    error: OperationFailure | None = None

    @property
    def kind(self) -> str:
        """e.g. `import_file`."""
        return opb.OperationKind.Name(self.metadata.kind).removeprefix("OPERATION_KIND_").lower()

    @property
    def state(self) -> str:
        """e.g. `running`."""
        return opb.OperationState.Name(self.metadata.state).removeprefix("OPERATION_STATE_").lower()

    @classmethod
    def of(cls, proto: Any) -> Operation:
        metadata = opb.OperationMetadata()
        proto.metadata.Unpack(metadata)
        response, error = None, None
        if proto.HasField("response"):
            response = _RESPONSES[metadata.kind]()
            proto.response.Unpack(response)
        elif proto.HasField("error"):
            error = _failure(proto.error)
        return cls(proto.name, proto.done, metadata, response, error)


def _failure(status: Any) -> OperationFailure:
    reason = ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
    return OperationFailure(code_pb2.Code.Name(status.code), status.message, reason)
