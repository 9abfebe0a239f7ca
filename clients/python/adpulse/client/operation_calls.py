"""Long-running operations: uploads, imports, exports, backfills, and the Operations service."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import duration_pb2

from adpulse.client.connection import Connection
from adpulse.client.errors import AdpulseError
from adpulse.client.operations import Operation
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import tenant_service_pb2 as tpb


class OperationCalls(Connection):
    def upload_file(
        self, path: str | os.PathLike[str], *, piece_bytes: int = 1 << 20
    ) -> ipb.UploadFileResponse:
        """Copies a local file into the server's import directory; its server-side path."""
        local = Path(path)

        def requests() -> Iterator[ipb.UploadFileRequest]:
            yield ipb.UploadFileRequest(header=ipb.UploadFileHeader(file_name=local.name))
            with local.open("rb") as f:
                while piece := f.read(piece_bytes):
                    yield ipb.UploadFileRequest(data=piece)

        try:
            response: ipb.UploadFileResponse = self._ingest.UploadFile(requests(), metadata=self._metadata)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        return response

    def import_file(self, request: ipb.ImportFileRequest) -> Operation:
        return Operation.of(self._call(self._ingest.ImportFile, request))

    def export_metrics(self, request: apb.ExportMetricsRequest) -> Operation:
        return Operation.of(self._call(self._analytics.ExportMetrics, request))

    def backfill(self, start: str, end: str, steps: Sequence[str] = (), request_id: str = "") -> Operation:
        request = apb.BackfillRequest(
            start_date=start, end_date=end, steps=list(steps), request_id=request_id
        )
        return Operation.of(self._call(self._analytics.Backfill, request))

    def download_export(self, name: str, offset: int = 0) -> Iterator[bytes]:
        """The bytes of a finished export, piece by piece."""
        return self._download(
            self._analytics.DownloadExport, apb.DownloadExportRequest(name=name, offset=offset)
        )

    def export_tenant_data(self, request_id: str = "") -> Operation:
        """Starts writing everything stored for the tenant into one archive (admin)."""
        request = tpb.ExportTenantDataRequest(request_id=request_id)
        return Operation.of(self._call(self._tenants.ExportTenantData, request))

    def download_tenant_data(self, name: str, offset: int = 0) -> Iterator[bytes]:
        """The bytes of a finished tenant data archive, piece by piece."""
        return self._download(
            self._tenants.DownloadTenantData, tpb.DownloadTenantDataRequest(name=name, offset=offset)
        )

    def delete_tenant_data(self, confirm: str, request_id: str = "") -> Operation:
        """Starts deleting everything stored for the tenant; `confirm` is its name (admin)."""
        request = tpb.DeleteTenantDataRequest(confirm=confirm, request_id=request_id)
        return Operation.of(self._call(self._tenants.DeleteTenantData, request))

    def _download(self, method: Any, request: object) -> Iterator[bytes]:
        call = method(request, metadata=self._metadata)
        try:
            for piece in call:
                yield piece.data
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        finally:
            call.cancel()

    def operation(self, name: str) -> Operation:
        return Operation.of(
            self._call(self._operations.GetOperation, operations_pb2.GetOperationRequest(name=name))
        )

    def operations(
        self, *, filter: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Operation], str]:
        """One page of operations, newest first, and the next page's token ("" on the last)."""
        request = operations_pb2.ListOperationsRequest(
            name="operations", filter=filter, page_size=page_size, page_token=page_token
        )
        page = self._call(self._operations.ListOperations, request)
        return [Operation.of(o) for o in page.operations], page.next_page_token

    def cancel_operation(self, name: str) -> None:
        self._call(self._operations.CancelOperation, operations_pb2.CancelOperationRequest(name=name))

    def delete_operation(self, name: str) -> None:
        self._call(self._operations.DeleteOperation, operations_pb2.DeleteOperationRequest(name=name))

    def wait_operation(self, name: str, timeout: float = 60.0) -> Operation:
        """The operation once done, or as it stands after `timeout` seconds."""
        request = operations_pb2.WaitOperationRequest(
            name=name, timeout=duration_pb2.Duration(seconds=int(timeout), nanos=int(timeout % 1 * 1e9))
        )
        try:
            answer = self._operations.WaitOperation(request, metadata=self._metadata, timeout=timeout + 10)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        return Operation.of(answer)
