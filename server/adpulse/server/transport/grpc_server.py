"""The grpcio server: our services, health, reflection, message limits, one listening port."""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from adpulse.server.settings import Settings
from adpulse.server.transport import boundary
from adpulse.server.transport.access_servicer import AccessServicer
from adpulse.server.transport.alert_servicer import AlertServicer
from adpulse.server.transport.analytics_servicer import AnalyticsServicer
from adpulse.server.transport.calls import CallPipeline, CallStep
from adpulse.server.transport.draining import Drain
from adpulse.server.transport.fair_gate import FairGate, running_calls
from adpulse.server.transport.ingest_servicer import IngestServicer
from adpulse.server.transport.operations_servicer import OperationsServicer
from adpulse.server.transport.request_limits import RequestLimits
from adpulse.server.transport.stream_limits import long_calls, long_methods, tenant_calls
from adpulse.server.transport.tenant_servicer import TenantServicer
from adpulse.v1 import (
    access_service_pb2,
    access_service_pb2_grpc,
    alert_service_pb2,
    alert_service_pb2_grpc,
    analytics_service_pb2,
    analytics_service_pb2_grpc,
    ingest_service_pb2,
    ingest_service_pb2_grpc,
    tenant_service_pb2,
    tenant_service_pb2_grpc,
)

log = logging.getLogger(__name__)
SERVICE_NAMES = (
    ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,
    analytics_service_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name,
    tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"].full_name,
    operations_pb2.DESCRIPTOR.services_by_name["Operations"].full_name,
    access_service_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name,
    alert_service_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name,
)


@dataclass
class GrpcServer:
    server: grpc.Server
    health: health.HealthServicer
    address: str
    drain: Drain
    gate: FairGate

    def stop(self, grace_seconds: float) -> None:
        """Health says NOT_SERVING first, so balancers drain; open client streams are told to
        go on elsewhere at their next message boundary; then in-flight calls get `grace`."""
        self.health.enter_graceful_shutdown()
        self.drain.begin()
        self.server.stop(grace_seconds).wait()


class _RawIngestRequests:
    """Registers IngestService as generated, except that `Ingest` receives each request as its
    serialized bytes, for the kernel to read in place; its client streams drain on shutdown."""

    def __init__(self, server: grpc.Server, drain: Drain) -> None:
        self._server = server
        self._drain = drain

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        """Superseded by the handlers registered below."""

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        raw = {
            name: self._drain.wrap(
                handler._replace(request_deserializer=None) if name == "Ingest" else handler  # type: ignore[attr-defined]
            )
            for name, handler in handlers.items()
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, raw),))
        self._server.add_registered_method_handlers(service, raw)


def start(  # noqa: PLR0917 - one servicer per service
    settings: Settings,
    ingest: IngestServicer,
    analytics: AnalyticsServicer,
    tenants: TenantServicer,
    operations: OperationsServicer,
    steps: tuple[CallStep, ...] = (),
    *,
    alerts: AlertServicer,
    access: AccessServicer,
) -> GrpcServer:
    long = long_methods(_service_descriptors())
    running = running_calls(long, settings.max_running_calls, settings.call_queue_seconds)
    slots = (
        tenant_calls(long, settings.tenant_max_concurrent_calls),
        long_calls(long, settings.max_streams, settings.max_streams_per_tenant),
        # Last: a call waits for its turn only once every cap has admitted it.
        running,
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_workers, thread_name_prefix="grpc"),
        # The in-flight caps run last: they count per tenant, which the auth step decides.
        interceptors=[CallPipeline((*steps, *slots), boundary.abort, RequestLimits.of(settings).check)],
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            # Without this a second server could bind the same port and split the traffic.
            ("grpc.so_reuseport", 0),
            # Pings find dead peers (a vanished client's stream ends instead of hanging).
            ("grpc.keepalive_time_ms", settings.keepalive_seconds * 1000),
            ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_seconds * 1000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ],
    )
    drain = Drain(settings.stream_idle_seconds)
    ingest_service_pb2_grpc.add_IngestServiceServicer_to_server(ingest, _RawIngestRequests(server, drain))  # type: ignore[arg-type]
    analytics_service_pb2_grpc.add_AnalyticsServiceServicer_to_server(analytics, server)
    tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(tenants, server)
    operations_pb2_grpc.add_OperationsServicer_to_server(operations, server)
    access_service_pb2_grpc.add_AccessServiceServicer_to_server(access, server)
    alert_service_pb2_grpc.add_AlertServiceServicer_to_server(alerts, server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if settings.reflection:
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
    credentials = server_credentials(settings)
    if credentials is None:
        port = server.add_insecure_port(settings.listen)
    else:
        port = server.add_secure_port(settings.listen, credentials)
    server.start()
    host = settings.listen.rsplit(":", 1)[0]
    return GrpcServer(
        server=server, health=health_servicer, address=f"{host}:{port}", drain=drain, gate=running.gate
    )


def _service_descriptors() -> list[ServiceDescriptor]:
    return [
        descriptor_pool.Default().FindServiceByName(name)
        for name in (*SERVICE_NAMES, reflection.SERVICE_NAME)
    ]


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS from the settings' PEM files (with a client CA, clients must present a certificate
    it signed); None for plaintext."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )
