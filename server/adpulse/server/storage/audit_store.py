"""The audit log in Postgres (table audit_events, append-only by trigger)."""

from __future__ import annotations

from adpulse.server.domain.audit import DENIED, AuditEvent, AuditQuery
from adpulse.server.storage.postgres import Pool, unavailable_on_failure

_COLUMNS = "event_id, at, tenant, key_id, action, target, peer, outcome, reason"


class PostgresAuditLog:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def append(self, event: AuditEvent) -> None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO audit_events (tenant, key_id, action, target, peer, outcome, reason) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    event.tenant,
                    event.key_id,
                    event.action,
                    event.target,
                    event.peer,
                    event.outcome,
                    event.reason,
                ),
            )

    def events(self, query: AuditQuery, limit: int) -> list[AuditEvent]:
        where: list[str] = ["TRUE"]
        params: list[object] = []
        for condition, value in (
            ("tenant = %s", query.tenant),
            ("at >= %s", query.since),
            ("at < %s", query.until),
            ("key_id = %s", query.key_id or None),
            ("event_id < %s", query.before_id),
            ("outcome = ANY(%s)", sorted(DENIED) if query.denied_only else None),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_events WHERE {' AND '.join(where)} "
                "ORDER BY event_id DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [
            AuditEvent(
                event_id=event_id,
                at=at,
                tenant=tenant,
                key_id=key_id,
                action=action,
                target=target,
                peer=peer,
                outcome=outcome,
                reason=reason,
            )
            for event_id, at, tenant, key_id, action, target, peer, outcome, reason in rows
        ]
