"""API keys, scopes and who may act for which tenant.

A key is `adp_<key id>_<secret>`. The key id names the stored record and is not secret; the
secret is 256 random bits (`secrets`), shown once when the key is made and kept only as its
SHA-256. A fast hash is the right one here: slow password hashes (bcrypt, argon2) exist to make
guessing low-entropy passwords expensive, but nobody can enumerate 2**256 secrets however fast
the hash, and a fast hash keeps the check of every call cheap. Digests are compared in constant
time.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from adpulse.server.domain.errors import (
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from adpulse.server.domain.tenancy import validate_tenant

KEY_PREFIX = "adp_"
_KEY = re.compile(r"adp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
MAX_KEY_NAME = 100


class Scope(enum.StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"
    OPERATOR = "operator"


TENANT_SCOPES = frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN})


class KeyState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class MintedKey:
    """A new key: the text the caller gets once, and the digest that is stored."""

    key_id: str
    text: str
    digest: bytes


@dataclass(frozen=True)
class ApiKey:
    """What is stored about a key (never its secret)."""

    key_id: str
    name: str
    tenant: str  # "" for an operator key
    scopes: frozenset[Scope]
    created_at: dt.datetime
    digest: bytes = b""
    last_used_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def is_operator(self) -> bool:
        return Scope.OPERATOR in self.scopes

    def state(self, now: dt.datetime) -> KeyState:
        if self.revoked_at is not None:
            return KeyState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KeyState.EXPIRED
        return KeyState.ACTIVE


@dataclass(frozen=True)
class Principal:
    """Who a call comes from: the verified key's id, tenant ("" for an operator) and scopes."""

    key_id: str
    tenant: str
    scopes: frozenset[Scope]

    @property
    def is_operator(self) -> bool:
        return Scope.OPERATOR in self.scopes


@dataclass(frozen=True)
class Tenant:
    name: str
    created_at: dt.datetime


def mint_key() -> MintedKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 256 bits
    return MintedKey(key_id, f"{KEY_PREFIX}{key_id}_{secret}", digest_of(secret))


def digest_of(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def split_key(text: str) -> tuple[str, str]:
    """(key id, secret) of a presented key; UNAUTHENTICATED when it is not shaped like one."""
    match = _KEY.fullmatch(text)
    if match is None:
        raise Unauthenticated(
            "the API key is malformed: expected `authorization: Bearer adp_<key id>_<secret>`",
            "API_KEY_INVALID",
        )
    return match.group(1), match.group(2)


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.digest, digest_of(secret))


def unknown_key() -> Unauthenticated:
    # One answer for an unknown id and a wrong secret: neither says which ids exist.
    return Unauthenticated("the API key is not valid", "API_KEY_INVALID")


@dataclass
class InactiveKey(Unauthenticated):
    """A stored key that is revoked or expired; `owner` (its tenant) is for the audit log, never
    the caller."""

    owner: str = field(default="", repr=False)


def refuse_inactive(key: ApiKey, now: dt.datetime) -> None:
    state = key.state(now)
    if state is KeyState.REVOKED:
        raise InactiveKey(
            f"API key {key.key_id} was revoked",
            "API_KEY_REVOKED",
            metadata={"key_id": key.key_id},
            owner=key.tenant,
        )
    if state is KeyState.EXPIRED:
        raise InactiveKey(
            f"API key {key.key_id} has expired",
            "API_KEY_EXPIRED",
            metadata={"key_id": key.key_id},
            owner=key.tenant,
        )


def require_scope(scopes: frozenset[Scope], needed: Scope) -> None:
    if Scope.OPERATOR in scopes or needed in scopes:
        return
    held = ", ".join(sorted(scopes)) or "none"
    raise PermissionDenied(
        f"this call needs an API key with the `{needed}` scope (this key has: {held})",
        "SCOPE_MISSING",
        metadata={"required_scope": str(needed)},
    )


def acting_tenant(key: ApiKey, named: list[str], default_tenant: str) -> str:
    """The tenant a call acts for: a tenant key's own (a header may only repeat it); for an
    operator key, the one the header names, else `default_tenant`."""
    if len(named) > 1:
        raise InvalidArgument(
            "the x-adpulse-tenant header was sent more than once",
            "DUPLICATE_HEADER",
            violations=[FieldViolation("x-adpulse-tenant", "at most one value", "DUPLICATE_HEADER")],
        )
    header = validate_tenant(named[0]) if named else None
    if key.is_operator:
        return header or default_tenant
    if header is not None and header != key.tenant:
        raise PermissionDenied(
            f"this API key acts for tenant {key.tenant!r} only, not {header!r}",
            "OTHER_TENANT",
            metadata={"tenant": header},
        )
    return key.tenant


def validate_key_id(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidArgument(
            f"key_id {key_id!r} is not a key id (16 hex digits)",
            "INVALID_KEY_ID",
            violations=[FieldViolation("key_id", "16 hex digits", "INVALID_KEY_ID")],
        )
    return key_id


def validate_new_key(
    tenant: str, scopes: Iterable[Scope], name: str, expires_at: dt.datetime | None, now: dt.datetime
) -> frozenset[Scope]:
    """The scopes of a key to make, checked together with its tenant, name and expiry."""
    chosen = frozenset(scopes)
    violations = []
    if not chosen:
        violations.append(FieldViolation("scopes", "name at least one scope", "SCOPES_MISSING"))
    elif Scope.OPERATOR in chosen and (len(chosen) > 1 or tenant):
        violations.append(
            FieldViolation("scopes", "OPERATOR stands alone and takes no tenant", "OPERATOR_SCOPE_ALONE")
        )
    if len(name) > MAX_KEY_NAME or not name.isprintable():
        violations.append(
            FieldViolation("name", f"at most {MAX_KEY_NAME} printable characters", "INVALID_KEY_NAME")
        )
    if expires_at is not None and expires_at <= now:
        violations.append(FieldViolation("expire_time", "must be in the future", "EXPIRY_IN_PAST"))
    if violations:
        raise InvalidArgument(
            "the key to create is not valid: " + "; ".join(f"{v.field}: {v.description}" for v in violations),
            violations[0].reason,
            violations=violations,
        )
    return chosen
