"""Every application at a glance, in two aggregate queries: the console's left column and its health marks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from kanri.console.ops.context import Context
from kanri.console.registry import schema

HEALTHY, DEGRADED, FAILING, IDLE = "healthy", "degraded", "failing", "idle"


@dataclass(frozen=True)
class AppHealth:
    name: str
    services: int
    models: int
    converging: int  # services the cluster has not yet confirmed
    failing: int  # services whose last cluster call failed

    @property
    def health(self) -> str:
        """Failing beats degraded beats healthy; an application without services is idle."""
        if self.failing:
            return FAILING
        if self.converging:
            return DEGRADED
        return HEALTHY if self.services else IDLE


def application_health(ctx: Context) -> list[AppHealth]:
    """Sorted by name. Counts come from the registry; the console refines them with live pods."""
    services = (select(schema.Service.application_id,
                       func.count().label("services"),
                       func.sum(case((schema.Service.converged.is_(False), 1), else_=0)).label("converging"),
                       func.sum(case((schema.Service.cluster_error != "", 1), else_=0)).label("failing"))
                .group_by(schema.Service.application_id).subquery())
    models = (select(schema.Model.application_id, func.count().label("models"))
              .group_by(schema.Model.application_id).subquery())
    query = (select(schema.Application.name, services.c.services, models.c.models, services.c.converging,
                    services.c.failing)
             .outerjoin(services, services.c.application_id == schema.Application.id)
             .outerjoin(models, models.c.application_id == schema.Application.id)
             .order_by(schema.Application.name))
    with ctx.registry.session() as session:
        return [AppHealth(name, int(n or 0), int(m or 0), int(c or 0), int(f or 0))
                for name, n, m, c, f in session.execute(query)]
