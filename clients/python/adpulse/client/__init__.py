"""Python client of adpulse: `AdpulseClient` over the adpulse.v1 gRPC API."""

from adpulse.client.client import DEFAULT_TARGET, AdpulseClient, FileRowError, IngestReport, StreamOptions
from adpulse.client.errors import AdpulseError, Violation
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
    "Violation",
    "WebhookSignatureError",
    "verify_signature",
]
