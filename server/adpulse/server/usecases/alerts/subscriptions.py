"""AlertsUseCase: create, list and delete subscriptions, test-fire one, list deliveries.

A signing secret is made here and shown once, in the answer to its creation; it is stored only
sealed (see `storage.secret_box`), never logged, and never returned again.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adpulse.server.domain.alerts import (
    SECRET_PREFIX,
    AlertEvent,
    AlertTrigger,
    Delivery,
    DeliveryFilter,
    IpNetwork,
    NewDelivery,
    PayloadFormat,
    Subscription,
    blocked_reason,
    build_subscription,
)
from adpulse.server.domain.analytics import invalid
from adpulse.server.domain.errors import FailedPrecondition, NotFound, ResourceExhausted
from adpulse.server.domain.insights import Severity
from adpulse.server.ports_alerts import AlertQueue, AlertStore, SecretBox
from adpulse.server.usecases.alerts import payloads

log = logging.getLogger(__name__)


def new_id(prefix: str, hex_chars: int) -> str:
    return f"{prefix}-{secrets.token_hex(hex_chars // 2)}"


def secret_context(subscription: Subscription) -> bytes:
    """What a sealed secret is bound to: it opens only on its own subscription's row."""
    return f"{subscription.tenant}\0{subscription.id}".encode()


@dataclass(frozen=True)
class AddressPolicy:
    """Where this server lets deliveries go (settings ADPULSE_ALERT_ALLOW_LOOPBACK and
    ADPULSE_ALERT_ALLOW_NETWORKS)."""

    allow_loopback: bool
    allowed_networks: Sequence[IpNetwork] = ()


class AlertsUseCase:
    def __init__(
        self,
        store: AlertStore,
        box: SecretBox,
        queue: AlertQueue,
        *,
        policy: AddressPolicy,
        max_subscriptions: int,
        now: Callable[[], dt.datetime],
    ) -> None:
        self._store = store
        self._box = box
        self._queue = queue
        self._policy = policy
        self._max_subscriptions = max_subscriptions
        self._now = now

    def create(
        self,
        tenant: str,
        *,
        display_name: str,
        url: str,
        trigger: AlertTrigger | None,
        min_severity: Severity | None,
        payload_format: PayloadFormat | None,
    ) -> tuple[Subscription, str]:
        """The stored subscription and its signing secret (shown this once)."""
        subscription = build_subscription(
            subscription_id=new_id("sub", 16),
            tenant=tenant,
            display_name=display_name,
            url=url,
            trigger=trigger,
            min_severity=min_severity,
            payload_format=payload_format,
        )
        self._check_destination(subscription)
        if len(self._store.subscriptions(tenant, 0, self._max_subscriptions)) >= self._max_subscriptions:
            raise ResourceExhausted(
                f"a tenant has at most {self._max_subscriptions} alert subscriptions; delete one first",
                "TOO_MANY_SUBSCRIPTIONS",
                metadata={"limit": str(self._max_subscriptions)},
            )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        sealed = self._box.seal(secret.encode(), secret_context(subscription))
        stored = self._store.create_subscription(subscription, sealed)
        log.info("alert subscription %s of %s created", stored.name, tenant)
        return stored, secret

    def _check_destination(self, subscription: Subscription) -> None:
        """Refuses now what delivery would refuse later, where that can be told from the URL
        alone (a host name is resolved, and checked, at each attempt)."""
        if subscription.loopback and not self._policy.allow_loopback:
            raise FailedPrecondition(
                "this server does not send alerts to loopback addresses (ADPULSE_ALERT_ALLOW_LOOPBACK)",
                "LOOPBACK_NOT_ALLOWED",
            )
        host = urllib.parse.urlsplit(subscription.url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
        reason = blocked_reason(
            address, loopback_url=subscription.loopback, allowed=self._policy.allowed_networks
        )
        if reason:
            raise invalid(
                "subscription.webhook_url", f"{reason}; deliveries do not go there", "BLOCKED_ADDRESS"
            )

    def subscriptions(self, tenant: str, offset: int, limit: int) -> list[Subscription]:
        return self._store.subscriptions(tenant, offset, limit)

    def delete(self, tenant: str, subscription_id: str) -> None:
        if not self._store.delete_subscription(tenant, subscription_id):
            raise _no_subscription(subscription_id)
        log.info("alert subscription alertSubscriptions/%s of %s deleted", subscription_id, tenant)

    def test(self, tenant: str, subscription_id: str) -> Delivery:
        subscription = self._store.subscription(tenant, subscription_id)
        if subscription is None:
            raise _no_subscription(subscription_id)
        delivery_id = new_id("dlv", 24)
        body = payloads.body(subscription, delivery_id, AlertEvent.TEST, (), created=self._now())
        self._store.add_deliveries(
            tenant, [NewDelivery(delivery_id, subscription.id, AlertEvent.TEST, new_id("test", 16), body)]
        )
        self._queue.enqueue(delivery_id)
        return self.delivery(tenant, delivery_id)

    def deliveries(self, tenant: str, where: DeliveryFilter, offset: int, limit: int) -> list[Delivery]:
        return self._store.deliveries(tenant, where, offset, limit)

    def delivery(self, tenant: str, delivery_id: str) -> Delivery:
        delivery = self._store.delivery(tenant, delivery_id)
        if delivery is None:
            raise NotFound(f"alertDeliveries/{delivery_id} does not exist", "DELIVERY_NOT_FOUND")
        return delivery


def _no_subscription(subscription_id: str) -> NotFound:
    return NotFound(f"alertSubscriptions/{subscription_id} does not exist", "SUBSCRIPTION_NOT_FOUND")
