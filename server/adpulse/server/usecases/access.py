"""Checking the key of every call, and looking after tenants and keys.

Verified keys are remembered for `cache_seconds` (a few), keyed by the digest of the whole
presented key, so the check of most calls is a hash and a dict lookup. A key revoked here is
forgotten at once; one revoked through another server is refused here once its entry ages out,
so revocation takes effect everywhere within `cache_seconds`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from adpulse.server.domain.access import (
    ApiKey,
    KeyState,
    Principal,
    Scope,
    Tenant,
    mint_key,
    refuse_inactive,
    secret_matches,
    split_key,
    unknown_key,
    validate_key_id,
    validate_new_key,
)
from adpulse.server.domain.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from adpulse.server.domain.tenancy import validate_tenant
from adpulse.server.ports import AccessStore

log = logging.getLogger(__name__)
# A key's last use is written at most this often: precise enough to spot unused keys, and no
# write per call.
LAST_USE_PRECISION = dt.timedelta(minutes=1)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class _Verified:
    key: ApiKey
    until: float  # monotonic time the entry is good until


class Authenticator:
    def __init__(
        self,
        store: AccessStore,
        cache_seconds: float,
        now: Callable[[], dt.datetime] = _utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = cache_seconds
        self._now = now
        self._clock = clock
        # Only keys that passed the check get in, so callers cannot grow it with made-up keys.
        self._verified: dict[bytes, _Verified] = {}
        self._lock = threading.Lock()

    def verify(self, presented: str) -> ApiKey:
        """The stored key `presented` stands for; UNAUTHENTICATED saying why when there is none."""
        fingerprint = hashlib.sha256(presented.encode()).digest()
        hit = self._verified.get(fingerprint)
        if hit is not None and hit.until > self._clock():
            return hit.key
        self._verified.pop(fingerprint, None)
        key_id, secret = split_key(presented)
        key = self._store.key(key_id)
        if key is None or not secret_matches(key, secret):
            raise unknown_key()
        now = self._now()
        refuse_inactive(key, now)
        self._store.touch(key.key_id, LAST_USE_PRECISION)
        until = self._clock() + self._ttl
        if key.expires_at is not None:
            until = min(until, self._clock() + (key.expires_at - now).total_seconds())
        with self._lock:
            self._verified[fingerprint] = _Verified(key, until)
        return key

    def forget(self, key_id: str) -> None:
        with self._lock:
            for fingerprint in [f for f, v in self._verified.items() if v.key.key_id == key_id]:
                del self._verified[fingerprint]


@dataclass(frozen=True)
class CreatedKey:
    text: str  # the whole key: shown once, stored nowhere
    key: ApiKey


class AccessUseCase:
    def __init__(
        self,
        store: AccessStore,
        authenticator: Authenticator,
        now: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._authenticator = authenticator
        self._now = now

    def now(self) -> dt.datetime:
        return self._now()

    def create_tenant(self, name: str) -> Tenant:
        return self._store.create_tenant(_tenant_name(name, "name"))

    def list_tenants(self, offset: int, page_size: int) -> tuple[list[Tenant], bool]:
        size = bounded_page_size(page_size)
        found = self._store.tenants(offset, size + 1)
        return found[:size], len(found) > size

    def create_key(  # noqa: PLR0917 - a key has this many parts
        self,
        actor: Principal,
        call_tenant: str,
        tenant: str,
        scopes: Iterable[Scope],
        name: str,
        expires_at: dt.datetime | None,
    ) -> CreatedKey:
        """A new key of `tenant` ("" means the call's tenant; an operator key has none)."""
        now = self._now()
        chosen = frozenset(scopes)
        if Scope.OPERATOR in chosen:
            if not actor.is_operator:
                raise PermissionDenied(
                    "only an operator key can make operator keys",
                    "SCOPE_MISSING",
                    metadata={"required_scope": str(Scope.OPERATOR)},
                )
            owner = tenant
        else:
            owner = self._own_tenant(actor, tenant or call_tenant)
            if self._store.tenant(owner) is None:
                raise NotFound(
                    f"tenant {owner!r} is not registered; an operator registers it first "
                    f"(`adpulse tenants create {owner}`)",
                    "TENANT_NOT_FOUND",
                    metadata={"tenant": owner},
                )
        chosen = validate_new_key(owner, chosen, name, expires_at, now)
        minted = mint_key()
        key = ApiKey(minted.key_id, name, owner, chosen, now, minted.digest, expires_at=expires_at)
        self._store.add_key(key)
        log.info("made API key %s for %s", key.key_id, owner or "operators")
        return CreatedKey(minted.text, key)

    def list_keys(
        self, actor: Principal, tenant: str, show_inactive: bool, offset: int, page_size: int
    ) -> tuple[list[ApiKey], bool]:
        """Keys newest first: an operator's of every tenant (or the one named), an admin's own."""
        owner = None if actor.is_operator and not tenant else self._own_tenant(actor, tenant or actor.tenant)
        size = bounded_page_size(page_size)
        found = self._store.keys(owner, None if show_inactive else self._now(), offset, size + 1)
        return found[:size], len(found) > size

    def revoke_key(self, actor: Principal, key_id: str) -> ApiKey:
        key = self._store.key(validate_key_id(key_id))
        if key is None or not (actor.is_operator or key.tenant == actor.tenant):
            raise NotFound(f"no API key {key_id}", "API_KEY_NOT_FOUND", metadata={"key_id": key_id})
        if key.is_operator and key.state(self._now()) is KeyState.ACTIVE and self._last_operator(key):
            raise PermissionDenied(
                "this is the last active operator key: make another before revoking it",
                "LAST_OPERATOR_KEY",
                metadata={"key_id": key_id},
            )
        revoked = self._store.revoke(key.key_id)
        self._authenticator.forget(key.key_id)
        log.info("revoked API key %s", key.key_id)
        return revoked or key

    def ensure_operator_key(self, publish: Callable[[str], None]) -> bool:
        """With no key stored at all, makes an operator key and hands its text to `publish`
        (which writes it where the operator finds it); True when it did."""
        minted = mint_key()
        operator = frozenset({Scope.OPERATOR})
        key = ApiKey(minted.key_id, "first operator key", "", operator, self._now(), minted.digest)
        if not self._store.add_key(key, only_if_none=True):
            return False
        publish(minted.text)
        return True

    def _own_tenant(self, actor: Principal, tenant: str) -> str:
        name = _tenant_name(tenant)
        if not actor.is_operator and name != actor.tenant:
            raise PermissionDenied(
                f"this API key acts for tenant {actor.tenant!r} only, not {name!r}",
                "OTHER_TENANT",
                metadata={"tenant": name},
            )
        return name

    def _last_operator(self, key: ApiKey) -> bool:
        active = self._store.keys("", self._now(), 0, 2)
        return [k.key_id for k in active] == [key.key_id]


def _tenant_name(name: str, field: str = "tenant") -> str:
    """A tenant named in a request's field (the header's check names the header)."""
    try:
        return validate_tenant(name)
    except InvalidArgument as err:
        violation = FieldViolation(field, err.violations[0].description, err.reason)
        raise replace(err, violations=[violation]) from None


def bounded_page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument(
            "page_size must not be negative",
            "INVALID_PAGE_SIZE",
            violations=[FieldViolation("page_size", "must not be negative", "INVALID_PAGE_SIZE")],
        )
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
