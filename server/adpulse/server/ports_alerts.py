"""The ports of alerts: subscriptions and deliveries in a store, sealed secrets, the HTTP
sender, the delivery queue (apart from `ports.py`, which the other use cases share)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

from adpulse.server.domain.alerts import (
    AlertTrigger,
    Delivery,
    DeliveryFilter,
    DeliveryState,
    NewDelivery,
    Subscription,
)


class AlertStore(Protocol):
    """Alert subscriptions (with their sealed signing secrets) and the delivery ledger."""

    def create_subscription(self, subscription: Subscription, sealed_secret: bytes) -> Subscription: ...

    def subscriptions(self, tenant: str, offset: int, limit: int) -> list[Subscription]:
        """Oldest first."""

    def subscription(self, tenant: str, subscription_id: str) -> Subscription | None: ...

    def subscribed(self, tenant: str | None, trigger: AlertTrigger) -> list[Subscription]:
        """Every subscription with this trigger, of one tenant or (None) of all."""

    def delete_subscription(self, tenant: str, subscription_id: str) -> bool:
        """Deletes it and its secret and cancels its unsent deliveries; False if there was none."""

    def add_deliveries(self, tenant: str, deliveries: Sequence[NewDelivery]) -> list[str]:
        """Records pending deliveries; one per subscription and subject, so a delivery whose
        subscription already has one for its subject is not added. The ids added."""

    def deliveries(self, tenant: str, where: DeliveryFilter, offset: int, limit: int) -> list[Delivery]:
        """Newest first."""

    def delivery(self, tenant: str, delivery_id: str) -> Delivery | None: ...

    def claim(
        self, delivery_id: str, lease_seconds: float
    ) -> tuple[Delivery, Subscription, bytes, bytes] | None:
        """Marks a due pending delivery (or one whose sender died) as sending, counting the
        attempt; (delivery, subscription, sealed secret, body), or None when it is not due,
        finished, or being sent."""

    def finish_attempt(
        self,
        delivery_id: str,
        state: DeliveryState,
        status_code: int,
        error: str,
        retry_at: dt.datetime | None,
    ) -> None:
        """Records how an attempt ended: delivered, failed, or pending again until `retry_at`."""

    def overdue(self, grace_seconds: float) -> list[str]:
        """Ids of deliveries whose attempt is due since `grace_seconds` or whose sender died:
        their message may be lost."""


class SecretBox(Protocol):
    """Seals secrets the server must read again (webhook signing secrets) under a server key."""

    def seal(self, secret: bytes, context: bytes) -> bytes: ...

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """The secret; fails if `sealed` was not sealed with this key and context."""


class WebhookSender(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes, *, loopback: bool) -> tuple[int, str]:
        """POSTs once, following no redirect; (HTTP status, "") or (0, why it could not be sent,
        e.g. a timeout). Raises `BlockedAddress` when the host resolves to an address that
        deliveries may not go to."""


class AlertQueue(Protocol):
    """Hands deliveries to the workers; a message names only the delivery."""

    def enqueue(self, delivery_id: str, countdown: float = 0.0) -> None: ...
