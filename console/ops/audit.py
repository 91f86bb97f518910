"""Reading the audit trail: who changed what, when, and how it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from kanri.console.ops.context import Context
from kanri.console.ops.views import AuditView, audit_view
from kanri.console.registry import schema


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


@dataclass(frozen=True)
class Tenure:
    """A model version a service ran, from when to when (until None: it still does)."""

    model_version: int
    since: datetime
    until: datetime | None
    actor: str
    action: str


MODEL_CHANGES = ("service.create", "service.switch", "service.rollback")


def service_history(ctx: Context, app: str, service: str) -> list[Tenure]:
    """The promotion history of one service, newest first, read back from its successful audit events."""
    query = (select(schema.AuditEvent).where(schema.AuditEvent.target == f"{app}/{service}",
                                             schema.AuditEvent.action.in_(MODEL_CHANGES),
                                             schema.AuditEvent.result == "ok")
             .order_by(schema.AuditEvent.id))
    with ctx.registry.session() as session:
        events = [(e.time, e.actor, e.action, (e.after or {}).get("model_version")) for e in session.scalars(query)]
    tenures: list[Tenure] = []
    for time, actor, action, version in events:
        if version is None or (tenures and tenures[-1].model_version == version):
            continue
        if tenures:
            last = tenures[-1]
            tenures[-1] = Tenure(last.model_version, last.since, time, last.actor, last.action)
        tenures.append(Tenure(version, time, None, actor, action))
    return tenures[::-1]


def change_summary(event: AuditView) -> str:
    """What changed, short: "replicas 1→3", or "version=2" for what had no before."""
    before, after = event.before or {}, event.after or {}

    def short(value: object) -> str:
        if isinstance(value, dict):
            return "{" + " ".join(f"{k}={v}" for k, v in value.items()) + "}"
        text = str(value)
        return text if len(text) <= 16 else text[:15] + "…"

    return ", ".join(f"{key} {short(before[key])}→{short(value)}" if key in before else f"{key}={short(value)}"
                     for key, value in after.items() if before.get(key) != value)
