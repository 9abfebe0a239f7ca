"""The audit log: an append-only record of changes, refusals and deletions.

Who is a key id (never a key, a digest or a secret); what is the RPC or job and its target;
when, from which peer, and how it ended (`OK` or the status code, with the refusal's reason).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DENIED = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})


@dataclass(frozen=True)
class AuditEvent:
    action: str  # "adpulse.v1.AccessService/RevokeApiKey", or a job's name
    outcome: str  # "OK" or a status code's name
    tenant: str = ""  # "" when the call was refused before a tenant was known
    key_id: str = ""
    target: str = ""
    peer: str = ""
    reason: str = ""
    at: dt.datetime | None = None  # set by the store
    event_id: int = 0  # set by the store; grows with time


@dataclass(frozen=True)
class AuditQuery:
    """Which events to list, newest first."""

    tenant: str | None  # None: every tenant's (operators only)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    key_id: str = ""
    denied_only: bool = False
    before_id: int | None = None  # the page after the event with this id
