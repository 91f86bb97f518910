"""Reading the audit trail: who changed what, when, and how it went."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from console.ops.context import Context
from console.ops.views import AuditView, audit_view
from console.registry import schema


def audit_trail(ctx: Context, since: datetime | None = None, target: str | None = None,
                limit: int = 200) -> list[AuditView]:
    """The newest events first."""
    query = select(schema.AuditEvent).order_by(schema.AuditEvent.id.desc()).limit(limit)
    if since is not None:
        query = query.where(schema.AuditEvent.time >= since)
    if target:
        query = query.where(schema.AuditEvent.target.startswith(target, autoescape=True))
    with ctx.registry.session() as session:
        return [audit_view(event) for event in session.scalars(query).all()]
