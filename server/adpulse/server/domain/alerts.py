"""Alert subscriptions and their deliveries: what they are, which URLs and addresses a
delivery may go to, how a delivery is signed, and how an attempt's answer is judged."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import ipaddress
import random
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from adpulse.server.domain.analytics import invalid
from adpulse.server.domain.insights import Severity

MAX_URL_CHARS = 2048
MAX_DISPLAY_NAME_CHARS = 200
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "adpulse-signature"
DELIVERY_HEADER = "adpulse-delivery"
EVENT_HEADER = "adpulse-event"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddress(Exception):
    """A webhook's host resolved to an address deliveries may not go to; retrying cannot help."""


class AlertTrigger(enum.Enum):
    INCIDENT = "incident"
    DAILY_DIGEST = "daily_digest"


class PayloadFormat(enum.Enum):
    JSON = "json"
    SLACK = "slack"


class AlertEvent(enum.Enum):
    INCIDENT = "incident"
    DAILY_DIGEST = "daily_digest"
    TEST = "test"


class DeliveryState(enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant: str
    display_name: str
    url: str
    trigger: AlertTrigger
    min_severity: Severity
    payload_format: PayloadFormat
    created_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        return f"alertSubscriptions/{self.id}"

    @property
    def loopback(self) -> bool:
        """The URL names a loopback host: the one case a delivery may go to a loopback address."""
        return is_loopback_host(urllib.parse.urlsplit(self.url).hostname or "")


@dataclass(frozen=True)
class Delivery:
    id: str
    tenant: str
    subscription_id: str
    event: AlertEvent
    subject: str
    state: DeliveryState
    attempts: int = 0
    last_status_code: int = 0
    last_error: str = ""
    created_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        return f"alertDeliveries/{self.id}"


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to record: its body is fixed now, so every retry sends the same bytes."""

    id: str
    subscription_id: str
    event: AlertEvent
    subject: str
    body: bytes


@dataclass(frozen=True)
class DeliveryFilter:
    subscription_id: str = ""
    state: DeliveryState | None = None


def is_loopback_host(host: str) -> bool:
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_subscription(
    *,
    subscription_id: str,
    tenant: str,
    display_name: str,
    url: str,
    trigger: AlertTrigger | None,
    min_severity: Severity | None,
    payload_format: PayloadFormat | None,
) -> Subscription:
    check_url(url, "subscription.webhook_url")
    if len(display_name) > MAX_DISPLAY_NAME_CHARS:
        raise invalid(
            "subscription.display_name", f"at most {MAX_DISPLAY_NAME_CHARS} characters", "NAME_TOO_LONG"
        )
    if trigger is None:
        raise invalid(
            "subscription.trigger", "say what fires it: an incident or a daily digest", "MISSING_TRIGGER"
        )
    return Subscription(
        id=subscription_id,
        tenant=tenant,
        display_name=display_name,
        url=url,
        trigger=trigger,
        min_severity=min_severity or Severity.LOW,
        payload_format=payload_format or PayloadFormat.JSON,
    )


def check_url(url: str, field: str) -> None:
    """HTTPS, or plain HTTP to a loopback host; no credentials (they would sit in the URL for
    anyone who lists the subscriptions), no fragment."""
    if not url:
        raise invalid(field, "required: the https:// URL to POST deliveries to", "MISSING_URL")
    if len(url) > MAX_URL_CHARS:
        raise invalid(field, f"at most {MAX_URL_CHARS} characters", "URL_TOO_LONG")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid(field, "not a URL", "INVALID_URL") from None
    host = parts.hostname or ""
    problem = ""
    if parts.scheme not in {"https", "http"} or not host:
        problem = "expected https://host/path"
    elif parts.scheme == "http" and not is_loopback_host(host):
        problem = "plain http only to a loopback address (127.0.0.1, [::1], localhost); use https"
    elif parts.username is not None or parts.password is not None:
        problem = "must not carry credentials; the signature authenticates deliveries"
    elif parts.fragment:
        problem = "must not have a #fragment"
    elif port == 0 or not url.isprintable() or any(c.isspace() for c in url):
        problem = "not a valid URL"
    if problem:
        raise invalid(field, problem, "INVALID_URL")


def blocked_reason(address: IpAddress, *, loopback_url: bool, allowed: Sequence[IpNetwork]) -> str:
    """Why a delivery must not connect to `address` ("" if it may).

    Only public addresses, those inside an operator-allowed network, and — for a URL that
    names a loopback host — loopback addresses. Everything else (private, link-local such as
    cloud metadata at 169.254.169.254, shared, reserved, multicast) is refused, whatever name
    resolved to it: a webhook must not become a way into the server's own network.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if loopback_url:
        return "" if address.is_loopback else f"{address} is not a loopback address"
    if any(address in network for network in allowed):
        return ""
    if address.is_loopback:
        return f"{address} is a loopback address"
    if not address.is_global or address.is_multicast:
        return f"{address} is a private, link-local or reserved address"
    return ""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `adpulse-signature` header: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "fail"


_RETRIED_STATUSES = frozenset({408, 425, 429})


def judge(status_code: int) -> Verdict:
    """2xx acknowledges. 408/425/429 and 5xx say "later". A redirect is never followed (it could
    lead anywhere, a private address included) and fails, as does any other refusal: sending
    the same signed body again would get the same answer."""
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code in _RETRIED_STATUSES or 500 <= status_code < 600:
        return Verdict.RETRY
    return Verdict.FAIL


def retry_delay(attempts: int, base_seconds: float, cap_seconds: float) -> float:
    """Exponential backoff with jitter after `attempts` failed attempts: about base, 2·base,
    4·base … up to the cap, each shortened by up to half so receivers are not hit in waves."""
    return random.uniform(0.5, 1.0) * min(cap_seconds, base_seconds * 2.0 ** max(0, attempts - 1))


_SUBSCRIPTION_NAME = re.compile(r"alertSubscriptions/(sub-[0-9a-f]{16})")
_DELIVERY_NAME = re.compile(r"alertDeliveries/(dlv-[0-9a-f]{24})")


def subscription_id_of(name: str, field: str) -> str:
    match = _SUBSCRIPTION_NAME.fullmatch(name)
    if not match:
        raise invalid(field, "expected alertSubscriptions/{id}", "INVALID_NAME")
    return match.group(1)


def delivery_id_of(name: str, field: str) -> str:
    match = _DELIVERY_NAME.fullmatch(name)
    if not match:
        raise invalid(field, "expected alertDeliveries/{id}", "INVALID_NAME")
    return match.group(1)
