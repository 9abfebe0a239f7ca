"""adpulse.v1.TenantService: the tenant's settings (currency, retention) and its data's export
and deletion, over the currency and tenant-data use cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.operations import Operation, operation_id
from adpulse.server.transport import boundary
from adpulse.server.transport.calls import call_of
from adpulse.server.transport.operations_servicer import operation
from adpulse.server.transport.tenancy import principal_of, tenant_of
from adpulse.server.usecases.currency import CurrencyUseCase
from adpulse.server.usecases.tenant_data import TenantDataUseCase, check_retention_days
from adpulse.v1 import tenant_service_pb2 as pb
from adpulse.v1 import tenant_service_pb2_grpc as pb_grpc

_FIELDS = ("reporting_currency", "retention_days")


class TenantServicer(pb_grpc.TenantServiceServicer):
    def __init__(self, currency: CurrencyUseCase, data: TenantDataUseCase) -> None:
        self._currency = currency
        self._data = data

    @boundary.unary
    def GetTenantSettings(  # noqa: N802 - the RPC's name
        self, request: pb.GetTenantSettingsRequest, context: grpc.ServicerContext
    ) -> pb.TenantSettings:
        return self._settings(tenant_of(context))

    @boundary.unary
    def UpdateTenantSettings(  # noqa: N802 - the RPC's name
        self, request: pb.UpdateTenantSettingsRequest, context: grpc.ServicerContext
    ) -> pb.TenantSettings:
        tenant = tenant_of(context)
        paths = list(request.update_mask.paths) or list(_FIELDS)
        unknown = [
            FieldViolation(f"update_mask.paths[{i}]", f"one of {', '.join(_FIELDS)}", "UNKNOWN_FIELD")
            for i, path in enumerate(paths)
            if path not in _FIELDS
        ]
        if unknown:
            raise InvalidArgument(
                f"update_mask names fields TenantSettings does not have; it has {', '.join(_FIELDS)}",
                "UNKNOWN_FIELD",
                violations=unknown,
            )
        if "retention_days" in paths:
            check_retention_days(request.settings.retention_days)  # before anything is changed
        if "reporting_currency" in paths:
            self._currency.set_reporting_currency(tenant, request.settings.reporting_currency)
        if "retention_days" in paths:
            self._data.set_retention_days(tenant, request.settings.retention_days)
        return self._settings(tenant)

    @boundary.unary
    def ExportTenantData(  # noqa: N802 - the RPC's name
        self, request: pb.ExportTenantDataRequest, context: grpc.ServicerContext
    ) -> Any:
        started = self._data.start_export(
            tenant_of(context), principal_of(context).key_id, request.request_id
        )
        return _started(context, started)

    @boundary.streaming
    def DownloadTenantData(  # noqa: N802 - the RPC's name
        self, request: pb.DownloadTenantDataRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.DownloadTenantDataResponse]:
        call_of(context).facts["target"] = request.name
        for piece in self._data.download(tenant_of(context), operation_id(request.name), request.offset):
            yield pb.DownloadTenantDataResponse(data=piece)

    @boundary.unary
    def DeleteTenantData(  # noqa: N802 - the RPC's name
        self, request: pb.DeleteTenantDataRequest, context: grpc.ServicerContext
    ) -> Any:
        tenant = tenant_of(context)
        started = self._data.start_delete(
            tenant, principal_of(context).key_id, request.confirm, request.request_id
        )
        return _started(context, started)

    def _settings(self, tenant: str) -> pb.TenantSettings:
        return pb.TenantSettings(
            reporting_currency=self._currency.reporting_currency(tenant),
            retention_days=self._data.retention_days(tenant),
        )


def _started(context: grpc.ServicerContext, started: Operation) -> Any:
    """The operation, named as the audited call's target."""
    call_of(context).facts["target"] = started.name
    return operation(started)
