"""Tenant names: every fact, batch and query belongs to exactly one tenant."""

from __future__ import annotations

import re

from adpulse.server.domain.errors import FieldViolation, InvalidArgument

DEFAULT_TENANT = "default"
_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def validate_tenant(name: str) -> str:
    if not _TENANT.fullmatch(name):
        raise InvalidArgument(
            f"tenant {name!r} is not valid: 1 to 63 of a-z 0-9 _ -, starting with a letter or digit",
            reason="INVALID_TENANT",
            violations=[FieldViolation("x-adpulse-tenant", "not a valid tenant name", "INVALID_TENANT")],
        )
    return name
