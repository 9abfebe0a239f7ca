"""`python -m adpulse.server.healthcheck`: the container's health check, in the grpc health
protocol. Exits 0 when the server on ADPULSE_LISTEN's port answers SERVING, 1 otherwise.

It dials 127.0.0.1 (inside the container). With ADPULSE_TLS_CERT set it speaks TLS, trusting
ADPULSE_HEALTHCHECK_CA (default: the server's own certificate file, right for a self-signed
certificate or a chain file that ends in its CA) and checking the name
ADPULSE_HEALTHCHECK_SERVER_NAME (default `localhost`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adpulse.server.settings import DEFAULT_LISTEN


def check(env: dict[str, str] | os._Environ[str], timeout: float = 3.0) -> bool:
    port = (env.get("ADPULSE_LISTEN") or DEFAULT_LISTEN).rsplit(":", 1)[1]
    target = f"127.0.0.1:{port}"
    cert = env.get("ADPULSE_TLS_CERT")
    if cert:
        roots = Path(env.get("ADPULSE_HEALTHCHECK_CA") or cert).read_bytes()
        name = env.get("ADPULSE_HEALTHCHECK_SERVER_NAME") or "localhost"
        channel = grpc.secure_channel(
            target, grpc.ssl_channel_credentials(roots), options=(("grpc.ssl_target_name_override", name),)
        )
    else:
        channel = grpc.insecure_channel(target)
    try:
        with channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
    except grpc.RpcError:
        return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


if __name__ == "__main__":
    sys.exit(0 if check(os.environ) else 1)
