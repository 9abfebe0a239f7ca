"""adpulse.v1.TenantService over the currency use case."""

from __future__ import annotations

import grpc

from adpulse.server.transport import boundary
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.currency import CurrencyUseCase
from adpulse.v1 import tenant_service_pb2 as pb
from adpulse.v1 import tenant_service_pb2_grpc as pb_grpc


class TenantServicer(pb_grpc.TenantServiceServicer):
    def __init__(self, currency: CurrencyUseCase) -> None:
        self._currency = currency

    @boundary.unary
    def GetTenantSettings(  # noqa: N802 - the RPC's name
        self, request: pb.GetTenantSettingsRequest, context: grpc.ServicerContext
    ) -> pb.TenantSettings:
        return pb.TenantSettings(reporting_currency=self._currency.reporting_currency(tenant_of(context)))

    @boundary.unary
    def UpdateTenantSettings(  # noqa: N802 - the RPC's name
        self, request: pb.UpdateTenantSettingsRequest, context: grpc.ServicerContext
    ) -> pb.TenantSettings:
        tenant = tenant_of(context)
        currency = self._currency.set_reporting_currency(tenant, request.settings.reporting_currency)
        return pb.TenantSettings(reporting_currency=currency)
