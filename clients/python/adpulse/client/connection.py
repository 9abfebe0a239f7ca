"""How the client reaches a server: the target, TLS, the API key, the stubs.

The key is the one given, else `ADPULSE_API_KEY`, else the operator key a local server wrote
to `<ADPULSE_DATA_DIR or ./.adpulse>/admin.key`, so a client next to `make run` needs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.longrunning import operations_pb2_grpc

from adpulse.client.errors import AdpulseError
from adpulse.v1 import access_service_pb2_grpc as acpb_grpc
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2_grpc as ipb_grpc
from adpulse.v1 import tenant_service_pb2_grpc as tpb_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
TENANT_HEADER = "x-adpulse-tenant"
API_KEY_ENV = "ADPULSE_API_KEY"
Response = TypeVar("Response")


def find_api_key(api_key: str | None = None) -> str | None:
    """`api_key`, else `ADPULSE_API_KEY`, else the key in `<ADPULSE_DATA_DIR or ./.adpulse>/admin.key`."""
    if api_key:
        return api_key
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV].strip()
    key_file = Path(os.environ.get("ADPULSE_DATA_DIR") or ".adpulse") / "admin.key"
    try:
        return key_file.read_text().strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class Tls:
    """TLS to the server: the CA that signed its certificate (None: the system's roots), and
    for mutual TLS the client's certificate and key (PEM files)."""

    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_cert.read_bytes() if self.ca_cert else None,
            private_key=self.client_key.read_bytes() if self.client_key else None,
            certificate_chain=self.client_cert.read_bytes() if self.client_cert else None,
        )


class Connection:
    """A channel to one server, its stubs, and the metadata every call carries."""

    def __init__(
        self,
        target: str | None = None,
        *,
        tenant: str | None = None,
        api_key: str | None = None,
        tls: Tls | None = None,
        timeout: float | None = 60.0,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.target = target or os.environ.get("ADPULSE_TARGET") or DEFAULT_TARGET
        self.api_key = find_api_key(api_key)
        self._metadata: tuple[tuple[str, str], ...] = ((TENANT_HEADER, tenant),) if tenant else ()
        if self.api_key:
            self._metadata += (("authorization", f"Bearer {self.api_key}"),)
        self._timeout = timeout
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
        self._channel = (
            grpc.secure_channel(self.target, tls.credentials(), options=options)
            if tls is not None
            else grpc.insecure_channel(self.target, options=options)
        )
        self._ingest = ipb_grpc.IngestServiceStub(self._channel)
        self._analytics = apb_grpc.AnalyticsServiceStub(self._channel)
        self._tenants = tpb_grpc.TenantServiceStub(self._channel)
        self._operations = operations_pb2_grpc.OperationsStub(self._channel)
        self._access = acpb_grpc.AccessServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _every_page(
        self, method: Callable[..., Any], request: Any, field: str, limit: int | None = None
    ) -> list[Any]:
        """The `field` items of every page of an AIP-158 list call, in order (up to `limit`)."""
        found: list[Any] = []
        while True:
            page = self._call(method, request)
            found.extend(getattr(page, field))
            if not page.next_page_token or (limit is not None and len(found) >= limit):
                return found[:limit]
            request.page_token = page.next_page_token

    def _call(self, method: Callable[..., Response], request: object) -> Response:
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
