"""Insights and budgets in Postgres (tables insights and budgets)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg.types.json import Jsonb

from adpulse.server.domain.insights import (
    Budget,
    Insight,
    InsightFilter,
    InsightStatus,
    InsightType,
    InsightUpdate,
    Severity,
)
from adpulse.server.storage.postgres import unavailable_on_failure

Pool = psycopg_pool.ConnectionPool[psycopg.Connection[tuple[Any, ...]]]
_COLUMNS = (
    "id, type, severity, title, body, impact_micros, currency, period_start, period_end, subject, "
    "evidence, recommended_action, priority, status, feedback, created_at, updated_at"
)


class PostgresInsightStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def save(self, tenant: str, insights: Sequence[Insight]) -> list[Insight]:
        """Inserts new insights and refreshes the numbers of known ones, keeping their status
        and feedback; returns them as stored."""
        stored = []
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            for i in insights:
                row = conn.execute(
                    f"INSERT INTO insights (tenant, {_COLUMNS.rsplit(', status', 1)[0]}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (tenant, id) DO UPDATE SET severity = EXCLUDED.severity, "
                    "title = EXCLUDED.title, body = EXCLUDED.body, impact_micros = EXCLUDED.impact_micros, "
                    "period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, "
                    "subject = EXCLUDED.subject, evidence = EXCLUDED.evidence, "
                    "recommended_action = EXCLUDED.recommended_action, priority = EXCLUDED.priority, "
                    f"updated_at = now() RETURNING {_COLUMNS}",
                    (
                        tenant,
                        i.id,
                        i.type.value,
                        int(i.severity),
                        i.title,
                        i.body,
                        i.impact_micros,
                        i.currency,
                        i.period_start,
                        i.period_end,
                        Jsonb(dict(i.subject)),
                        Jsonb(dict(i.evidence)),
                        i.recommended_action,
                        i.priority,
                    ),
                ).fetchone()
                assert row is not None
                stored.append(_insight(row))
        return stored

    def page(self, tenant: str, chosen: InsightFilter, offset: int, limit: int) -> tuple[list[Insight], int]:
        where, params = _where(tenant, chosen)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS}, count(*) OVER () FROM insights WHERE {where} "
                "ORDER BY priority DESC, period_end DESC, id OFFSET %s LIMIT %s",
                (*params, offset, limit),
            ).fetchall()
            if rows:
                total = rows[0][-1]
            else:
                counted = conn.execute(f"SELECT count(*) FROM insights WHERE {where}", params).fetchone()
                total = counted[0] if counted else 0
        return [_insight(r[:-1]) for r in rows], int(total)

    def update(self, change: InsightUpdate) -> Insight | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE insights SET status = coalesce(%s, status), feedback = coalesce(%s, feedback), "
                f"updated_at = now() WHERE tenant = %s AND id = %s RETURNING {_COLUMNS}",
                (
                    change.status.value if change.status else None,
                    change.feedback,
                    change.tenant,
                    change.id,
                ),
            ).fetchone()
        return _insight(row) if row else None

    def set_budget(self, tenant: str, budget: Budget) -> Budget:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO budgets (tenant, platform, account_id, campaign_id, month, amount_micros, "
                "currency) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant, month, platform, account_id, campaign_id) DO UPDATE SET "
                "amount_micros = EXCLUDED.amount_micros, currency = EXCLUDED.currency, updated_at = now() "
                "RETURNING platform, account_id, campaign_id, month, amount_micros, currency, updated_at",
                (
                    tenant,
                    budget.platform,
                    budget.account_id,
                    budget.campaign_id,
                    budget.month,
                    budget.amount_micros,
                    budget.currency,
                ),
            ).fetchone()
        assert row is not None
        return Budget(*row)

    def budgets(
        self, tenant: str, month: dt.date | None, offset: int = 0, limit: int | None = None
    ) -> tuple[list[Budget], int]:
        where = "tenant = %s" + (" AND month = %s" if month else "")
        params: tuple[Any, ...] = (tenant, month) if month else (tenant,)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT platform, account_id, campaign_id, month, amount_micros, currency, updated_at "
                f"FROM budgets WHERE {where} ORDER BY month, platform, account_id, campaign_id "
                "OFFSET %s LIMIT %s",
                (*params, offset, limit),
            ).fetchall()
            counted = conn.execute(f"SELECT count(*) FROM budgets WHERE {where}", params).fetchone()
        return [Budget(*r) for r in rows], int(counted[0]) if counted else 0


def _where(tenant: str, chosen: InsightFilter) -> tuple[str, tuple[Any, ...]]:
    where = ["tenant = %s"]
    params: list[Any] = [tenant]
    if chosen.types:
        where.append("type = ANY(%s)")
        params.append(sorted(t.value for t in chosen.types))
    if chosen.statuses:
        where.append("status = ANY(%s)")
        params.append(sorted(s.value for s in chosen.statuses))
    if chosen.min_severity:
        where.append("severity >= %s")
        params.append(int(chosen.min_severity))
    if chosen.campaign_id:
        where.append("subject->>'campaign_id' = %s")
        params.append(chosen.campaign_id)
    if chosen.start:
        where.append("period_end >= %s")
        params.append(chosen.start)
    if chosen.end:
        where.append("period_start <= %s")
        params.append(chosen.end)
    return " AND ".join(where), tuple(params)


def _insight(row: Sequence[Any]) -> Insight:
    (id_, type_, severity, title, body, impact, currency, start, end, subject, evidence, action, priority,
     status, feedback, created, updated) = row  # fmt: skip
    return Insight(
        id=id_,
        type=InsightType(type_),
        severity=Severity(severity),
        title=title,
        body=body,
        impact_micros=impact,
        currency=currency,
        period_start=start,
        period_end=end,
        subject=subject,
        evidence=evidence,
        recommended_action=action,
        priority=priority,
        status=InsightStatus(status),
        feedback=feedback,
        created_at=created,
        updated_at=updated,
    )
