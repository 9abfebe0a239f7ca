"""Each tenant's data version in Postgres (table tenant_data_versions)."""

from __future__ import annotations

from adpulse.server.storage.postgres import Pool, unavailable_on_failure


class PostgresDataVersions:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def current(self, tenant: str) -> int:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "SELECT version FROM tenant_data_versions WHERE tenant = %s", (tenant,)
            ).fetchone()
        return int(row[0]) if row else 0

    def bump(self, tenant: str) -> int:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO tenant_data_versions (tenant, version) VALUES (%s, 1) "
                "ON CONFLICT (tenant) DO UPDATE SET version = tenant_data_versions.version + 1, "
                "changed_at = now() RETURNING version",
                (tenant,),
            ).fetchone()
        assert row is not None, "an upsert returns its row"
        return int(row[0])
