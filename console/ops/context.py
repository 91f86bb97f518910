"""What every operation works with, and the one way an operation writes.

An operation validates, then writes its change and its audit event in one
transaction (`change`). A refused change still leaves an audit event saying
who tried what and why it was refused. Cluster calls happen after the commit
(`reach_cluster`). The change's own commit marks the services it touches not
converged, and only the cluster's answer marks them converged again: if the
cluster fails, or the command dies before it reaches the cluster, the registry
keeps the desired state, says the service has not converged, and `kanri sync`
finds the difference; a failure's audit event records the error.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kanri.console.cluster.base import ClusterBackend, ClusterError
from kanri.console.errors import Conflict, KanriError, NotFound, Unavailable
from kanri.console.registry import schema
from kanri.console.registry.database import Registry
from kanri.serving.models import ModelStore

T = TypeVar("T")
CHANGED_ELSEWHERE = "changed by someone else since you loaded it; reload and try again"


def default_actor() -> str:
    return os.environ.get("KANRI_ACTOR") or getpass.getuser()


@dataclass
class Context:
    registry: Registry
    store: ModelStore
    backend_factory: Callable[[], ClusterBackend]
    actor: str = field(default_factory=default_actor)
    progress_deadline_seconds: float | None = None
    """The cluster's: a rollout without progress this long is stuck, so min ready seconds must stay below it."""
    _backend: ClusterBackend | None = None

    @property
    def backend(self) -> ClusterBackend:
        """Built on first use, so that reading the registry never needs the cluster."""
        if self._backend is None:
            self._backend = self.backend_factory()
        return self._backend

    def close_backend(self) -> None:
        """Stop what a backend keeps running (the Kubernetes backend's watches), if one was built."""
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()


@dataclass
class Change:
    """The audit record of the change in progress; the operation fills in before and after."""

    session: Session
    event: schema.AuditEvent

    def awaits_cluster(self, services: Iterable[schema.Service]) -> None:
        """Not converged, in this very commit: until reach_cluster hears the cluster took the change."""
        for service in services:
            service.converged = False


@contextmanager
def change(ctx: Context, action: str, target: str) -> Iterator[Change]:
    event = schema.AuditEvent(actor=ctx.actor, action=action, target=target, result="ok")
    session = ctx.registry.session()
    try:
        yield Change(session, event)
        session.add(event)
        session.commit()
    except KanriError as exc:
        session.rollback()
        _record_refusal(ctx, event, str(exc))
        raise
    except StaleDataError as exc:
        session.rollback()
        _record_refusal(ctx, event, CHANGED_ELSEWHERE)
        raise Conflict(f"{target} was {CHANGED_ELSEWHERE}") from exc
    except IntegrityError as exc:
        session.rollback()
        _record_refusal(ctx, event, CHANGED_ELSEWHERE)
        raise Conflict(f"{target} was {CHANGED_ELSEWHERE} ({type(exc.orig).__name__})") from exc
    except DBAPIError as exc:
        session.rollback()
        raise Unavailable(f"the registry database failed during {action} {target}, nothing was written: "
                          f"{exc.orig}") from exc
    finally:
        session.close()


def _record_refusal(ctx: Context, event: schema.AuditEvent, reason: str) -> None:
    """Best effort: a registry that cannot take the audit event cannot have taken the change either."""
    try:
        with ctx.registry.session() as session:
            session.add(schema.AuditEvent(actor=event.actor, action=event.action, target=event.target,
                                          before=event.before, after=event.after, result="refused", error=reason))
            session.commit()
    except DBAPIError:
        pass


def reach_cluster(ctx: Context, change_event: schema.AuditEvent, call: Callable[[ClusterBackend], T],
                  services: list[int]) -> T:
    """Run a cluster call for a committed change; record its outcome on the event and the services."""
    try:
        result = call(ctx.backend)
    except ClusterError as exc:
        _settle(ctx, services, str(exc), change_event.id)
        raise ClusterError(f"the registry holds the change, but the cluster did not take it: {exc}; "
                           "`kanri sync --fix` applies it again") from exc
    confirm_converged(ctx, services)
    return result


def confirm_converged(ctx: Context, services: list[int]) -> None:
    """The cluster runs what the registry says for these services: it took their change, or sync saw it does."""
    _settle(ctx, services, "")


def _settle(ctx: Context, services: list[int], error: str, event_id: int | None = None) -> None:
    """Bookkeeping, not an edit: it must not bump the version an operator's next edit is checked against. An error
    also goes on the change's audit event."""
    with ctx.registry.session() as session:
        if error and event_id is not None:
            session.execute(update(schema.AuditEvent).where(schema.AuditEvent.id == event_id)
                            .values(result="cluster-failed", error=error))
        if services:
            session.execute(update(schema.Service).where(schema.Service.id.in_(services))
                            .values(converged=not error, cluster_error=error)
                            .execution_options(synchronize_session=False))
        session.commit()


def get_app(session: Session, name: str) -> schema.Application:
    app = session.scalar(select(schema.Application).where(schema.Application.name == name))
    if app is None:
        known = session.scalars(select(schema.Application.name).order_by(schema.Application.name)).all()
        hint = ", ".join(known) or "none; create one with kanri app create"
        raise NotFound(f"no application {name!r} (known: {hint})")
    return app


def get_model(session: Session, app: schema.Application, version: int) -> schema.Model:
    model = session.scalar(select(schema.Model).where(schema.Model.application_id == app.id,
                                                      schema.Model.version == version))
    if model is None:
        known = [str(m.version) for m in app.models]
        raise NotFound(f"application {app.name!r} has no model version {version} "
                       f"(versions: {', '.join(known) or 'none; upload one with kanri model upload'})")
    return model


def get_service(session: Session, app: schema.Application, name: str) -> schema.Service:
    service = session.scalar(select(schema.Service).where(schema.Service.application_id == app.id,
                                                          schema.Service.name == name))
    if service is None:
        known = [s.name for s in app.services]
        raise NotFound(f"application {app.name!r} has no service {name!r} (services: {', '.join(known) or 'none'})")
    return service


def expect_version(service: schema.Service, expected: int | None) -> None:
    """The console passes the version it showed the operator; a newer one means someone else edited."""
    if expected is not None and service.version != expected:
        raise Conflict(f"service {service.name!r} was {CHANGED_ELSEWHERE}")

