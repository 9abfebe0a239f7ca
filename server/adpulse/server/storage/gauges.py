"""Values that metrics read from the stores at scrape time: pending operations, queued jobs."""

from __future__ import annotations

from typing import Any

from adpulse.server.storage.postgres import Pool, unavailable_on_failure


def pending_operations(pool: Pool) -> dict[tuple[str, ...], float]:
    """(kind, state) -> how many operations are queued or running. Finished ones are counted
    by the workers as they finish (a count over all of them would scan a growing table)."""
    with unavailable_on_failure(), pool.connection() as conn:
        rows = conn.execute(
            "SELECT kind, state, count(*) FROM operations WHERE state IN ('queued', 'running') GROUP BY 1, 2"
        ).fetchall()
    return {(str(kind), str(state)): float(n) for kind, state, n in rows}


def queue_depth(app: Any, queue: str) -> dict[tuple[str, ...], float]:
    """Messages waiting in the broker's job queue (RabbitMQ or the SQLAlchemy transport)."""
    # One attempt, briefly: a scrape must not wait for a broker that is down.
    with app.connection_for_read(connect_timeout=2) as conn:
        conn.connect()
        channel = conn.channel()
        try:
            declared = channel.queue_declare(queue=queue, passive=True)
        finally:
            channel.close()
    return {(queue,): float(declared.message_count)}
