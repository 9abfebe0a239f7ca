"""Alert subscriptions and the delivery ledger in Postgres (tables alert_subscriptions and
alert_deliveries)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg_pool

from adpulse.server.domain.alerts import (
    AlertEvent,
    AlertTrigger,
    Delivery,
    DeliveryFilter,
    DeliveryState,
    NewDelivery,
    PayloadFormat,
    Subscription,
)
from adpulse.server.domain.insights import Severity
from adpulse.server.storage.postgres import unavailable_on_failure

Pool = psycopg_pool.ConnectionPool[psycopg.Connection[tuple[Any, ...]]]
_SUBSCRIPTION = (
    "s.id, s.tenant, s.display_name, s.url, s.trigger, s.min_severity, s.payload_format, s.created_at"
)
_DELIVERY = (
    "d.id, d.tenant, d.subscription_id, d.event, d.subject, d.state, d.attempts, d.last_status_code, "
    "d.last_error, d.created_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at"
)


class PostgresAlertStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    # -- subscriptions

    def create_subscription(self, subscription: Subscription, sealed_secret: bytes) -> Subscription:
        s = subscription
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO alert_subscriptions AS s (tenant, id, display_name, url, trigger, min_severity, "
                "payload_format, sealed_secret) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                f"RETURNING {_SUBSCRIPTION}",
                (
                    s.tenant,
                    s.id,
                    s.display_name,
                    s.url,
                    s.trigger.value,
                    int(s.min_severity),
                    s.payload_format.value,
                    sealed_secret,
                ),
            ).fetchone()
        assert row is not None
        return _subscription(row)

    def subscriptions(self, tenant: str, offset: int, limit: int) -> list[Subscription]:
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_SUBSCRIPTION} FROM alert_subscriptions s WHERE s.tenant = %s "
                "ORDER BY s.created_at, s.id OFFSET %s LIMIT %s",
                (tenant, offset, limit),
            ).fetchall()
        return [_subscription(r) for r in rows]

    def subscription(self, tenant: str, subscription_id: str) -> Subscription | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_SUBSCRIPTION} FROM alert_subscriptions s WHERE s.tenant = %s AND s.id = %s",
                (tenant, subscription_id),
            ).fetchone()
        return _subscription(row) if row else None

    def subscribed(self, tenant: str | None, trigger: AlertTrigger) -> list[Subscription]:
        where = "s.trigger = %s" + ("" if tenant is None else " AND s.tenant = %s")
        params = (trigger.value,) if tenant is None else (trigger.value, tenant)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_SUBSCRIPTION} FROM alert_subscriptions s WHERE {where} ORDER BY s.tenant, s.id",
                params,
            ).fetchall()
        return [_subscription(r) for r in rows]

    def delete_subscription(self, tenant: str, subscription_id: str) -> bool:
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            deleted = conn.execute(
                "DELETE FROM alert_subscriptions WHERE tenant = %s AND id = %s", (tenant, subscription_id)
            ).rowcount
            # An attempt under way still ends, but its outcome is not recorded: the subscription
            # is gone, so nothing of it is sent again and the history says cancelled.
            conn.execute(
                "UPDATE alert_deliveries SET state = 'cancelled', lease_until = NULL "
                "WHERE tenant = %s AND subscription_id = %s AND state IN ('pending', 'sending')",
                (tenant, subscription_id),
            )
        return deleted > 0

    # -- deliveries

    def add_deliveries(self, tenant: str, deliveries: Sequence[NewDelivery]) -> list[str]:
        added = []
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            for d in deliveries:
                row = conn.execute(
                    "INSERT INTO alert_deliveries (tenant, id, subscription_id, event, subject, body) "
                    "VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (tenant, subscription_id, subject) DO NOTHING RETURNING id",
                    (tenant, d.id, d.subscription_id, d.event.value, d.subject, d.body),
                ).fetchone()
                if row:
                    added.append(row[0])
        return added

    def deliveries(self, tenant: str, where: DeliveryFilter, offset: int, limit: int) -> list[Delivery]:
        clauses, params = ["d.tenant = %s"], [tenant]
        if where.subscription_id:
            clauses.append("d.subscription_id = %s")
            params.append(where.subscription_id)
        if where.state:
            clauses.append("d.state = %s")
            params.append(where.state.value)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_DELIVERY} FROM alert_deliveries d WHERE {' AND '.join(clauses)} "
                "ORDER BY d.created_at DESC, d.id DESC OFFSET %s LIMIT %s",
                (*params, offset, limit),
            ).fetchall()
        return [_delivery(r) for r in rows]

    def delivery(self, tenant: str, delivery_id: str) -> Delivery | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_DELIVERY} FROM alert_deliveries d WHERE d.tenant = %s AND d.id = %s",
                (tenant, delivery_id),
            ).fetchone()
        return _delivery(row) if row else None

    def claim(
        self, delivery_id: str, lease_seconds: float
    ) -> tuple[Delivery, Subscription, bytes, bytes] | None:
        """One statement decides who sends: of two workers handed the same delivery, one
        updates the row and the other finds it sending (or no longer due) and does nothing."""
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "UPDATE alert_deliveries d SET state = 'sending', attempts = d.attempts + 1, "
                "last_attempt_at = now(), lease_until = now() + make_interval(secs => %s) "
                "FROM alert_subscriptions s WHERE d.id = %s AND s.tenant = d.tenant "
                "AND s.id = d.subscription_id AND ((d.state = 'pending' AND d.next_attempt_at <= now()) "
                "OR (d.state = 'sending' AND d.lease_until < now())) "
                f"RETURNING {_DELIVERY}, {_SUBSCRIPTION}, s.sealed_secret, d.body",
                (lease_seconds, delivery_id),
            ).fetchone()
        if row is None:
            return None
        n = len(_DELIVERY.split(","))
        m = len(_SUBSCRIPTION.split(","))
        return _delivery(row[:n]), _subscription(row[n : n + m]), bytes(row[-2]), bytes(row[-1])

    def finish_attempt(
        self,
        delivery_id: str,
        state: DeliveryState,
        status_code: int,
        error: str,
        retry_at: dt.datetime | None,
    ) -> None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "UPDATE alert_deliveries SET state = %s, last_status_code = %s, last_error = %s, "
                "lease_until = NULL, next_attempt_at = coalesce(%s, next_attempt_at), "
                "delivered_at = CASE WHEN %s = 'delivered' THEN now() ELSE delivered_at END "
                "WHERE id = %s AND state = 'sending'",
                (state.value, status_code, error, retry_at, state.value, delivery_id),
            )

    def overdue(self, grace_seconds: float) -> list[str]:
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id FROM alert_deliveries WHERE (state = 'pending' AND next_attempt_at < "
                "now() - make_interval(secs => %s)) OR (state = 'sending' AND lease_until < now()) "
                "ORDER BY next_attempt_at LIMIT 1000",
                (grace_seconds,),
            ).fetchall()
        return [r[0] for r in rows]


def _subscription(row: Sequence[Any]) -> Subscription:
    id_, tenant, display_name, url, trigger, severity, payload_format, created = row
    return Subscription(
        id=id_,
        tenant=tenant,
        display_name=display_name,
        url=url,
        trigger=AlertTrigger(trigger),
        min_severity=Severity(severity),
        payload_format=PayloadFormat(payload_format),
        created_at=created,
    )


def _delivery(row: Sequence[Any]) -> Delivery:
    (id_, tenant, subscription_id, event, subject, state, attempts, status_code, error, created, attempted,
     next_attempt, delivered) = row  # fmt: skip
    return Delivery(
        id=id_,
        tenant=tenant,
        subscription_id=subscription_id,
        event=AlertEvent(event),
        subject=subject,
        state=DeliveryState(state),
        attempts=attempts,
        last_status_code=status_code,
        last_error=error,
        created_at=created,
        last_attempt_at=attempted,
        next_attempt_at=next_attempt,
        delivered_at=delivered,
    )
