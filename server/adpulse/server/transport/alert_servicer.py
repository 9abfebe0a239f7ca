"""adpulse.v1.AlertService over the alerts use case: converts and delegates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import timestamp_pb2

from adpulse.server.domain.alerts import (
    AlertEvent,
    AlertTrigger,
    Delivery,
    DeliveryFilter,
    DeliveryState,
    PayloadFormat,
    Subscription,
    delivery_id_of,
    subscription_id_of,
)
from adpulse.server.domain.insights import Severity
from adpulse.server.domain.metrics_query import clamp_page_size
from adpulse.server.transport import boundary, page_token
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.alerts.subscriptions import AlertsUseCase
from adpulse.v1 import alert_service_pb2 as pb
from adpulse.v1 import alert_service_pb2_grpc as pb_grpc
from adpulse.v1 import analytics_service_pb2 as apb

_TRIGGERS = {
    pb.ALERT_TRIGGER_INCIDENT: AlertTrigger.INCIDENT,
    pb.ALERT_TRIGGER_DAILY_DIGEST: AlertTrigger.DAILY_DIGEST,
}
_FORMATS = {pb.PAYLOAD_FORMAT_JSON: PayloadFormat.JSON, pb.PAYLOAD_FORMAT_SLACK: PayloadFormat.SLACK}
_SEVERITIES = {getattr(apb, f"SEVERITY_{s.name}"): s for s in Severity}
_EVENTS = {
    AlertEvent.INCIDENT: pb.ALERT_EVENT_INCIDENT,
    AlertEvent.DAILY_DIGEST: pb.ALERT_EVENT_DAILY_DIGEST,
    AlertEvent.TEST: pb.ALERT_EVENT_TEST,
}
Item = TypeVar("Item")
_STATES = {s: getattr(pb, f"ALERT_DELIVERY_STATE_{s.name}") for s in DeliveryState}


def _timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def subscription_message(s: Subscription) -> pb.AlertSubscription:
    return pb.AlertSubscription(
        name=s.name,
        display_name=s.display_name,
        webhook_url=s.url,
        trigger=next(k for k, v in _TRIGGERS.items() if v is s.trigger),
        min_severity=next(k for k, v in _SEVERITIES.items() if v is s.min_severity),
        payload_format=next(k for k, v in _FORMATS.items() if v is s.payload_format),
        create_time=_timestamp(s.created_at),
    )


def delivery_message(d: Delivery) -> pb.AlertDelivery:
    return pb.AlertDelivery(
        name=d.name,
        subscription=f"alertSubscriptions/{d.subscription_id}",
        event=_EVENTS[d.event],
        subject=d.subject,
        state=_STATES[d.state],
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        create_time=_timestamp(d.created_at),
        last_attempt_time=_timestamp(d.last_attempt_at),
        next_attempt_time=_timestamp(d.next_attempt_at if d.state is DeliveryState.PENDING else None),
        deliver_time=_timestamp(d.delivered_at),
    )


def _page(tenant: str, request: Any, fetch: Callable[[int, int], list[Item]]) -> tuple[list[Item], str]:
    """AIP-158: one page (one more is fetched to know whether a next page exists) and its token."""
    query = page_token.fingerprint(tenant, request)
    offset, size = page_token.decode(request.page_token, query), clamp_page_size(request.page_size)
    found = fetch(offset, size + 1)
    return found[:size], page_token.encode(offset + size, query) if len(found) > size else ""


class AlertServicer(pb_grpc.AlertServiceServicer):
    def __init__(self, alerts: AlertsUseCase) -> None:
        self._alerts = alerts

    @boundary.unary
    def CreateAlertSubscription(  # noqa: N802 - the RPC's name
        self, request: pb.CreateAlertSubscriptionRequest, context: grpc.ServicerContext
    ) -> pb.CreateAlertSubscriptionResponse:
        s = request.subscription
        subscription, secret = self._alerts.create(
            tenant_of(context),
            display_name=s.display_name,
            url=s.webhook_url,
            trigger=_TRIGGERS.get(s.trigger),
            min_severity=_SEVERITIES.get(s.min_severity),
            payload_format=_FORMATS.get(s.payload_format),
        )
        return pb.CreateAlertSubscriptionResponse(
            subscription=subscription_message(subscription), signing_secret=secret
        )

    @boundary.unary
    def ListAlertSubscriptions(  # noqa: N802 - the RPC's name
        self, request: pb.ListAlertSubscriptionsRequest, context: grpc.ServicerContext
    ) -> pb.ListAlertSubscriptionsResponse:
        tenant = tenant_of(context)
        found, token = _page(
            tenant, request, lambda offset, limit: self._alerts.subscriptions(tenant, offset, limit)
        )
        return pb.ListAlertSubscriptionsResponse(
            subscriptions=[subscription_message(s) for s in found], next_page_token=token
        )

    @boundary.unary
    def DeleteAlertSubscription(  # noqa: N802 - the RPC's name
        self, request: pb.DeleteAlertSubscriptionRequest, context: grpc.ServicerContext
    ) -> pb.DeleteAlertSubscriptionResponse:
        self._alerts.delete(tenant_of(context), subscription_id_of(request.name, "name"))
        return pb.DeleteAlertSubscriptionResponse()

    @boundary.unary
    def TestAlertSubscription(  # noqa: N802 - the RPC's name
        self, request: pb.TestAlertSubscriptionRequest, context: grpc.ServicerContext
    ) -> pb.TestAlertSubscriptionResponse:
        delivery = self._alerts.test(tenant_of(context), subscription_id_of(request.name, "name"))
        return pb.TestAlertSubscriptionResponse(delivery=delivery_message(delivery))

    @boundary.unary
    def ListAlertDeliveries(  # noqa: N802 - the RPC's name
        self, request: pb.ListAlertDeliveriesRequest, context: grpc.ServicerContext
    ) -> pb.ListAlertDeliveriesResponse:
        tenant = tenant_of(context)
        where = DeliveryFilter(
            subscription_id=subscription_id_of(request.subscription, "subscription")
            if request.subscription
            else "",
            state=next((k for k, v in _STATES.items() if v == request.state), None),
        )
        found, token = _page(
            tenant, request, lambda offset, limit: self._alerts.deliveries(tenant, where, offset, limit)
        )
        return pb.ListAlertDeliveriesResponse(
            deliveries=[delivery_message(d) for d in found], next_page_token=token
        )

    @boundary.unary
    def GetAlertDelivery(  # noqa: N802 - the RPC's name
        self, request: pb.GetAlertDeliveryRequest, context: grpc.ServicerContext
    ) -> pb.GetAlertDeliveryResponse:
        delivery = self._alerts.delivery(tenant_of(context), delivery_id_of(request.name, "name"))
        return pb.GetAlertDeliveryResponse(delivery=delivery_message(delivery))
