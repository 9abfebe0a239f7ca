"""The grpcio server: our services, health, reflection, message limits, one listening port."""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from adpulse.server.settings import Settings
from adpulse.server.transport.analytics_servicer import AnalyticsServicer
from adpulse.server.transport.ingest_servicer import IngestServicer
from adpulse.v1 import (
    analytics_service_pb2,
    analytics_service_pb2_grpc,
    ingest_service_pb2,
    ingest_service_pb2_grpc,
)

log = logging.getLogger(__name__)
SERVICE_NAMES = (
    ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,
    analytics_service_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name,
)


@dataclass
class GrpcServer:
    server: grpc.Server
    health: health.HealthServicer
    address: str

    def stop(self, grace_seconds: float) -> None:
        """Health says NOT_SERVING first, so balancers drain; then in-flight calls get `grace`."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_seconds).wait()


def start(settings: Settings, ingest: IngestServicer, analytics: AnalyticsServicer) -> GrpcServer:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_workers, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            # Without this a second server could bind the same port and split the traffic.
            ("grpc.so_reuseport", 0),
        ],
    )
    ingest_service_pb2_grpc.add_IngestServiceServicer_to_server(ingest, server)
    analytics_service_pb2_grpc.add_AnalyticsServiceServicer_to_server(analytics, server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if settings.reflection:
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
    port = server.add_insecure_port(settings.listen)
    server.start()
    host = settings.listen.rsplit(":", 1)[0]
    return GrpcServer(server=server, health=health_servicer, address=f"{host}:{port}")
