"""Postgres as the Celery broker of the embedded shape (kombu's SQLAlchemy transport)."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import URL

from adpulse.server.storage.postgres import Pool, unavailable_on_failure


def sqla_broker_url(dsn: str) -> str:
    """`sqla+postgresql+psycopg://…` for a libpq DSN or URI, a socket directory (the embedded
    server's `host=/path`) included."""
    parts = conninfo_to_dict(dsn)
    query = {k: str(v) for k, v in parts.items() if k not in {"user", "password", "dbname", "host", "port"}}
    host = str(parts.get("host", ""))
    if host.startswith("/"):  # a socket directory is a query parameter in SQLAlchemy's URLs
        query["host"] = host
        host = ""
    url = URL.create(
        "postgresql+psycopg",
        username=str(parts["user"]) if parts.get("user") else None,
        password=str(parts["password"]) if parts.get("password") else None,
        host=host or None,
        port=int(str(parts["port"])) if parts.get("port") and host else None,
        database=str(parts["dbname"]) if parts.get("dbname") else None,
        query=query,
    )
    if "port" in parts and not host:
        url = url.update_query_dict({"port": str(parts["port"])})
    return "sqla+" + url.render_as_string(hide_password=False)


def prune_delivered_messages(pool: Pool) -> int:
    """The transport keeps every delivered message (visible = false) for good: drop those
    older than a day, so the table does not grow without bound."""
    with unavailable_on_failure(), pool.connection() as conn:
        if conn.execute("SELECT to_regclass('kombu_message')").fetchone() == (None,):
            return 0
        return conn.execute(
            "DELETE FROM kombu_message WHERE visible = false AND timestamp < now() - interval '1 day'"
        ).rowcount
