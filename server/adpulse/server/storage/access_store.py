"""Tenants and API keys in Postgres (tables tenants, api_keys)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from adpulse.server.domain.access import ApiKey, Scope, Tenant
from adpulse.server.domain.errors import AlreadyExists
from adpulse.server.storage.postgres import Pool, unavailable_on_failure

_COLUMNS = "key_id, name, tenant, scopes, created_at, secret_sha256, last_used_at, expires_at, revoked_at"


def _key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, tenant, scopes, created, digest, used, expires, revoked = row
    return ApiKey(
        key_id=key_id,
        name=name,
        tenant=tenant or "",
        scopes=frozenset(Scope(s) for s in scopes),
        created_at=created,
        digest=bytes(digest),
        last_used_at=used,
        expires_at=expires,
        revoked_at=revoked,
    )


class PostgresAccessStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def create_tenant(self, name: str) -> Tenant:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO tenants (name) VALUES (%s) ON CONFLICT DO NOTHING RETURNING created_at", (name,)
            ).fetchone()
        if row is None:
            raise AlreadyExists(f"tenant {name!r} exists already", "TENANT_EXISTS", metadata={"tenant": name})
        return Tenant(name, row[0])

    def tenant(self, name: str) -> Tenant | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute("SELECT name, created_at FROM tenants WHERE name = %s", (name,)).fetchone()
        return Tenant(row[0], row[1]) if row else None

    def tenants(self, offset: int, limit: int) -> list[Tenant]:
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT name, created_at FROM tenants ORDER BY name OFFSET %s LIMIT %s", (offset, limit)
            ).fetchall()
        return [Tenant(name, created) for name, created in rows]

    def add_key(self, key: ApiKey, *, only_if_none: bool = False) -> bool:
        """Stores a new key; with `only_if_none`, only into an empty key store (False if not)."""
        guard = "WHERE NOT EXISTS (SELECT 1 FROM api_keys)" if only_if_none else ""
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            if only_if_none:
                # Servers starting together on one Postgres must not each make a first key.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('adpulse.first_key'))")
            row = conn.execute(
                "INSERT INTO api_keys (key_id, name, tenant, scopes, secret_sha256, expires_at) "
                f"SELECT %s, %s, %s, %s, %s, %s {guard} RETURNING key_id",
                (
                    key.key_id,
                    key.name,
                    key.tenant or None,
                    sorted(key.scopes),
                    key.digest,
                    key.expires_at,
                ),
            ).fetchone()
        return row is not None

    def key(self, key_id: str) -> ApiKey | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,)).fetchone()
        return _key(row) if row else None

    def keys(
        self, tenant: str | None, active_at: dt.datetime | None, offset: int, limit: int
    ) -> list[ApiKey]:
        """Keys newest first: of one tenant ("": the operator keys, None: all); with
        `active_at`, only those active then."""
        where: list[str] = ["TRUE"]
        params: list[object] = []
        if tenant is not None:
            where.append("tenant IS NOT DISTINCT FROM %s::text")
            params.append(tenant or None)
        if active_at is not None:
            where.append("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > %s)")
            params.append(active_at)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE {' AND '.join(where)} "
                "ORDER BY created_at DESC, key_id OFFSET %s LIMIT %s",
                (*params, offset, limit),
            ).fetchall()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey | None:
        """Marks the key revoked (an earlier revocation stands); None if there is no such key."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s "
                f"RETURNING {_COLUMNS}",
                (key_id,),
            ).fetchone()
        return _key(row) if row else None

    def touch(self, key_id: str, older_than: dt.timedelta) -> None:
        """Records a use of the key, unless one was recorded less than `older_than` ago."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "UPDATE api_keys SET last_used_at = now() WHERE key_id = %s "
                "AND (last_used_at IS NULL OR last_used_at < now() - %s)",
                (key_id, older_than),
            )
