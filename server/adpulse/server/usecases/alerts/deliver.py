"""Sends one delivery attempt: claim it, sign the stored body, POST once, record the outcome.

Nothing acknowledged is sent again: an attempt starts only from the ledger's pending state (or
from sending whose lease ran out because its sender died), and a 2xx makes the delivery
delivered for good. The window a receiver can see twice is an attempt whose 2xx reached us
but whose recording did not (a crash between the two): the delivery id header, the same on
every attempt, lets the receiver drop that repeat.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from adpulse.server.domain.alerts import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    BlockedAddress,
    DeliveryState,
    Verdict,
    judge,
    retry_delay,
    sign,
)
from adpulse.server.ports_alerts import AlertQueue, AlertStore, SecretBox, WebhookSender
from adpulse.server.usecases.alerts.subscriptions import AddressPolicy, secret_context

log = logging.getLogger(__name__)
USER_AGENT = "adpulse-alerts/1"
# A dead sender's claim lapses this long after its own timeout would have ended the attempt.
LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    cap_seconds: float


class DeliveryRunner:
    def __init__(
        self,
        store: AlertStore,
        box: SecretBox,
        sender: WebhookSender,
        queue: AlertQueue,
        *,
        policy: AddressPolicy,
        retries: RetryPolicy,
        timeout_seconds: float,
        now: Callable[[], dt.datetime],
    ) -> None:
        self._store = store
        self._box = box
        self._sender = sender
        self._queue = queue
        self._policy = policy
        self._retries = retries
        self._lease = timeout_seconds + LEASE_MARGIN_SECONDS
        self._now = now

    def run(self, delivery_id: str) -> DeliveryState | None:
        """One attempt if the delivery is due; its state afterwards (None: nothing to do)."""
        claimed = self._store.claim(delivery_id, self._lease)
        if claimed is None:
            return None
        delivery, subscription, sealed, body = claimed
        try:
            secret = self._box.open(sealed, secret_context(subscription)).decode()
        except ValueError:
            return self._finish(
                delivery_id,
                DeliveryState.FAILED,
                0,
                "the signing secret does not open with this server's alert key",
            )
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event.value,
            SIGNATURE_HEADER: sign(secret, int(self._now().timestamp()), body),
        }
        try:
            if subscription.loopback and not self._policy.allow_loopback:
                raise BlockedAddress("this server does not send alerts to loopback addresses")
            status, error = self._sender.post(subscription.url, headers, body, loopback=subscription.loopback)
        except BlockedAddress as blocked:
            return self._finish(delivery_id, DeliveryState.FAILED, 0, str(blocked))
        verdict = judge(status) if status else Verdict.RETRY
        if verdict is Verdict.DELIVERED:
            log.info("alert delivery %s acknowledged (HTTP %d)", delivery_id, status)
            return self._finish(delivery_id, DeliveryState.DELIVERED, status, "")
        if status:
            error = (
                f"HTTP {status}: redirects are not followed"
                if 300 <= status < 400
                else f"HTTP {status} from the receiver"
            )
        if verdict is Verdict.FAIL:
            return self._finish(delivery_id, DeliveryState.FAILED, status, error)
        if delivery.attempts >= self._retries.max_attempts:
            return self._finish(
                delivery_id,
                DeliveryState.FAILED,
                status,
                f"gave up after {delivery.attempts} attempts: {error}",
            )
        delay = retry_delay(delivery.attempts, self._retries.base_seconds, self._retries.cap_seconds)
        log.info("alert delivery %s attempt %d failed (%s); retry in %.1f s", delivery_id, delivery.attempts,
                 error, delay)  # fmt: skip
        self._store.finish_attempt(
            delivery_id, DeliveryState.PENDING, status, error, self._now() + dt.timedelta(seconds=delay)
        )
        self._queue.enqueue(delivery_id, countdown=delay)
        return DeliveryState.PENDING

    def _finish(self, delivery_id: str, state: DeliveryState, status: int, error: str) -> DeliveryState:
        if state is DeliveryState.FAILED:
            log.warning("alert delivery %s failed: %s", delivery_id, error)
        self._store.finish_attempt(delivery_id, state, status, error, None)
        return state
