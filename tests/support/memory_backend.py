"""An in-memory ClusterBackend: a test double of kanri's own interface, for the operations layer's tests.

It converges instantly, can be told to refuse the next calls, and can be
edited behind the registry's back to make drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from kanri.console.cluster.base import (
    ActualService,
    ClusterError,
    ClusterState,
    Pod,
    RolloutStatus,
    RouteSpec,
    ServiceSpec,
)


class MemoryBackend:
    name = "memory"

    def __init__(self) -> None:
        self.services: dict[tuple[str, str], ServiceSpec] = {}
        self.routes: dict[tuple[str, str], RouteSpec] = {}
        self.calls: list[str] = []
        self.failure = ""

    def _call(self, what: str) -> None:
        if self.failure:
            raise ClusterError(self.failure)
        self.calls.append(what)

    def apply(self, spec: ServiceSpec) -> None:
        self._call(f"apply {spec.app}/{spec.name} v{spec.model.version} x{spec.replicas}")
        self.services[(spec.app, spec.name)] = spec

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        yield self.status(app, service)

    def status(self, app: str, service: str) -> RolloutStatus:
        spec = self.services[(app, service)]
        return RolloutStatus(app, service, spec.replicas, spec.replicas, spec.replicas, spec.replicas, True)

    def set_route(self, route: RouteSpec) -> None:
        self._call(f"route {route.app}/{route.level} {route.weights}")
        self.routes[(route.app, route.level)] = route

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        """One ready pod per replica, running the service's model: a converged cluster."""
        return [Pod(f"{spec.name}-{i}", spec.app, spec.name, spec.level, "Running", True, 0, 60.0, spec.model.version,
                    "memory") for (spec_app, name), spec in sorted(self.services.items())
                if spec_app == app and service in (None, name) for i in range(spec.replicas)]

    def actual_state(self) -> ClusterState:
        if self.failure:
            raise ClusterError(self.failure)
        services = [ActualService(s.app, s.name, s.level, s.model.version, s.model.sha256, s.replicas,
                                  s.min_replicas, s.max_replicas, s.cpu_threshold, s.autoscale,
                                  scale_metric=s.scale_metric, scale_target=s.scale_target,
                                  scale_to_zero_after=s.scale_to_zero_after)
                    for s in self.services.values()]
        return ClusterState(services, list(self.routes.values()))

    def delete(self, app: str, service: str) -> None:
        self._call(f"delete {app}/{service}")
        self.services.pop((app, service), None)

    def address(self, app: str, level: str) -> str:
        return f"memory://{app}-{level}"

    def http_address(self, app: str, level: str) -> str:
        return f"http://memory/{app}-{level}"

    def tamper(self, app: str, service: str, **changes: object) -> None:
        """Change what 'runs' without the registry knowing, as someone with kubectl would."""
        self.services[(app, service)] = replace(self.services[(app, service)], **changes)
