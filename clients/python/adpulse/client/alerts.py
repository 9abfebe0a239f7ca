"""Alert subscriptions and deliveries: the AlertService part of `AdpulseClient`."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import grpc

from adpulse.v1 import alert_service_pb2 as pb
from adpulse.v1 import alert_service_pb2_grpc as pb_grpc
from adpulse.v1 import analytics_service_pb2 as apb

Response = TypeVar("Response")
TRIGGERS = {"incident": pb.ALERT_TRIGGER_INCIDENT, "daily_digest": pb.ALERT_TRIGGER_DAILY_DIGEST}
FORMATS = {"json": pb.PAYLOAD_FORMAT_JSON, "slack": pb.PAYLOAD_FORMAT_SLACK}
SEVERITIES = {
    "low": apb.SEVERITY_LOW,
    "medium": apb.SEVERITY_MEDIUM,
    "high": apb.SEVERITY_HIGH,
    "critical": apb.SEVERITY_CRITICAL,
}
DELIVERY_STATES = {
    name: getattr(pb, f"ALERT_DELIVERY_STATE_{name.upper()}")
    for name in ("pending", "sending", "delivered", "failed", "cancelled")
}
_UNFINISHED = {pb.ALERT_DELIVERY_STATE_PENDING, pb.ALERT_DELIVERY_STATE_SENDING}


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: pb.AlertSubscription
    signing_secret: str  # shown once: keep it with the receiver


class AlertsMixin:
    """Needs the `_channel` and `_call` of `AdpulseClient`."""

    _channel: grpc.Channel

    if TYPE_CHECKING:

        def _call(self, method: Callable[..., Response], request: object) -> Response: ...

    @functools.cached_property
    def _alerts(self) -> pb_grpc.AlertServiceStub:
        return pb_grpc.AlertServiceStub(self._channel)

    def create_alert_subscription(
        self,
        webhook_url: str,
        *,
        trigger: str = "incident",
        min_severity: str = "low",
        payload_format: str = "json",
        display_name: str = "",
    ) -> CreatedSubscription:
        """`trigger` incident or daily_digest; `payload_format` json or slack."""
        subscription = pb.AlertSubscription(
            display_name=display_name,
            webhook_url=webhook_url,
            trigger=TRIGGERS[trigger],
            min_severity=SEVERITIES[min_severity],
            payload_format=FORMATS[payload_format],
        )
        response: pb.CreateAlertSubscriptionResponse = self._call(
            self._alerts.CreateAlertSubscription, pb.CreateAlertSubscriptionRequest(subscription=subscription)
        )
        return CreatedSubscription(response.subscription, response.signing_secret)

    def alert_subscriptions(self) -> list[pb.AlertSubscription]:
        found: list[pb.AlertSubscription] = []
        token = ""
        while True:
            page: pb.ListAlertSubscriptionsResponse = self._call(
                self._alerts.ListAlertSubscriptions, pb.ListAlertSubscriptionsRequest(page_token=token)
            )
            found += page.subscriptions
            token = page.next_page_token
            if not token:
                return found

    def delete_alert_subscription(self, name: str) -> None:
        self._call(self._alerts.DeleteAlertSubscription, pb.DeleteAlertSubscriptionRequest(name=name))

    def test_alert_subscription(self, name: str) -> pb.AlertDelivery:
        response: pb.TestAlertSubscriptionResponse = self._call(
            self._alerts.TestAlertSubscription, pb.TestAlertSubscriptionRequest(name=name)
        )
        return response.delivery

    def alert_deliveries(
        self, *, subscription: str = "", state: str = "", limit: int = 50, page_token: str = ""
    ) -> pb.ListAlertDeliveriesResponse:
        request = pb.ListAlertDeliveriesRequest(
            subscription=subscription,
            state=DELIVERY_STATES[state] if state else pb.ALERT_DELIVERY_STATE_UNSPECIFIED,
            page_size=limit,
            page_token=page_token,
        )
        return self._call(self._alerts.ListAlertDeliveries, request)

    def alert_delivery(self, name: str) -> pb.AlertDelivery:
        response: pb.GetAlertDeliveryResponse = self._call(
            self._alerts.GetAlertDelivery, pb.GetAlertDeliveryRequest(name=name)
        )
        return response.delivery

    def wait_alert_delivery(self, name: str, timeout: float = 60.0, poll: float = 0.25) -> pb.AlertDelivery:
        """The delivery once it is delivered, failed or cancelled, or as it stands at `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            delivery = self.alert_delivery(name)
            if delivery.state not in _UNFINISHED or time.monotonic() >= deadline:
                return delivery
            time.sleep(poll)
