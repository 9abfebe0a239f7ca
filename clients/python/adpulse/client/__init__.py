"""Python client of adpulse: `AdpulseClient` over the adpulse.v1 gRPC API."""

from adpulse.client.client import AdpulseClient
from adpulse.client.connection import DEFAULT_TARGET, Tls, find_api_key
from adpulse.client.errors import AdpulseError, Violation
from adpulse.client.ingest_calls import FileRowError, IngestReport, StreamOptions
from adpulse.client.metrics import MetricsRecord, MetricsResult
from adpulse.client.operations import Operation, OperationFailure
from adpulse.client.webhooks import WebhookSignatureError, verify_signature

__all__ = [
    "DEFAULT_TARGET",
    "AdpulseClient",
    "AdpulseError",
    "FileRowError",
    "IngestReport",
    "MetricsRecord",
    "MetricsResult",
    "Operation",
    "OperationFailure",
    "StreamOptions",
    "Tls",
    "Violation",
    "WebhookSignatureError",
    "find_api_key",
    "verify_signature",
]
