"""Checking an adpulse webhook delivery on the receiving side.

A delivery carries `adpulse-signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 keyed with the subscription's signing secret (the whole `whsec_…` string) over
`"<t>.<raw body>"`. Verify the raw bytes as received (before any JSON parsing), compare in
constant time, and refuse a timestamp outside the replay window. Several `v1=` entries may
appear; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookSignatureError(ValueError):
    """The delivery is not signed by the secret, or signed too long ago."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """The signed timestamp when `header` signs `body` with `secret` within the window."""
    timestamp = None
    candidates = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookSignatureError("the adpulse-signature header lacks t= or v1=")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise WebhookSignatureError("no v1 signature matches the body")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookSignatureError(f"signed {current - timestamp:.0f} s ago, outside the replay window")
    return timestamp
