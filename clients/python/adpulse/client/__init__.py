"""Python client of adpulse: `AdpulseClient` over the adpulse.v1 gRPC API."""

from adpulse.client.client import DEFAULT_TARGET, AdpulseClient, FileRowError, IngestReport, StreamOptions
from adpulse.client.errors import AdpulseError, Violation
from adpulse.client.metrics import MetricsRecord, MetricsResult

__all__ = [
    "DEFAULT_TARGET",
    "AdpulseClient",
    "AdpulseError",
    "FileRowError",
    "IngestReport",
    "MetricsRecord",
    "MetricsResult",
    "StreamOptions",
    "Violation",
]
