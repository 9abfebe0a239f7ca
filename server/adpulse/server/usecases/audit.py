"""Recording what happened, and reading it back for whoever may."""

from __future__ import annotations

import logging
from dataclasses import replace

from adpulse.server.domain.access import Principal
from adpulse.server.domain.audit import AuditEvent, AuditQuery
from adpulse.server.domain.errors import AdpulseError, PermissionDenied
from adpulse.server.domain.tenancy import validate_tenant
from adpulse.server.ports import AuditLog
from adpulse.server.usecases.access import bounded_page_size

log = logging.getLogger(__name__)


class AuditUseCase:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def record(self, event: AuditEvent) -> None:
        """Appends the event. A store failure is logged, not raised: it happens after the call
        it records has ended, which it cannot undo."""
        try:
            self._audit.append(event)
        except AdpulseError:
            log.error("audit event of %s %s not recorded: the store failed", event.action, event.outcome)

    def list(self, actor: Principal, query: AuditQuery, size: int) -> tuple[list[AuditEvent], bool]:
        """A page of events, newest first: an admin's tenant's; an operator's every tenant's
        (or the one `query.tenant` names)."""
        if query.tenant:
            query = replace(query, tenant=validate_tenant(query.tenant))
        if not actor.is_operator:
            if query.tenant not in (None, actor.tenant):
                raise PermissionDenied(
                    f"this API key acts for tenant {actor.tenant!r} only, not {query.tenant!r}",
                    "OTHER_TENANT",
                    metadata={"tenant": str(query.tenant)},
                )
            query = replace(query, tenant=actor.tenant)
        limit = bounded_page_size(size)
        found = self._audit.events(query, limit + 1)
        return found[:limit], len(found) > limit
