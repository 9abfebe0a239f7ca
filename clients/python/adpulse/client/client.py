"""A small typed client of the adpulse gRPC API."""

from __future__ import annotations

from types import TracebackType

from adpulse.client.access_calls import AccessCalls
from adpulse.client.alerts import AlertsMixin
from adpulse.client.analytics_calls import AnalyticsCalls
from adpulse.client.ingest_calls import IngestCalls
from adpulse.client.operation_calls import OperationCalls


class AdpulseClient(IngestCalls, AnalyticsCalls, OperationCalls, AccessCalls, AlertsMixin):
    """Talks to one adpulse server. Use as a context manager, or call `close()`.

    `api_key` defaults to `ADPULSE_API_KEY`, else the local server's
    `<ADPULSE_DATA_DIR or ./.adpulse>/admin.key`; `tls` (e.g. `Tls(ca_cert=Path("ca.pem"))`)
    speaks TLS, plaintext without it.
    """

    def __enter__(self) -> AdpulseClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
