"""An in-memory ClusterBackend: a test double of kanri's own interface, for the operations layer's tests.

It converges instantly, can be told to refuse the next calls, can be
edited behind the registry's back to make drift, and can play the
autoscaler of an autoscaled service (`autoscaler_wants`).
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
        self.autoscaled: dict[tuple[str, str], tuple[int, str]] = {}  # what the autoscaler wants, and why

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
        replicas, why = self._running(self.services[(app, service)])
        return RolloutStatus(app, service, replicas, replicas, replicas, replicas, True, scale_reason=why)

    def autoscaler_wants(self, app: str, service: str, replicas: int, why: str) -> None:
        """Load as an autoscaler sees it: an autoscaled service now wants (and, converging at once, runs)
        `replicas`, 0 when idle, for the reason given."""
        self.autoscaled[(app, service)] = replicas, why

    def _running(self, spec: ServiceSpec) -> tuple[int, str]:
        """The replicas a service runs and why: its autoscaler's choice if it has made one, else the spec's."""
        chosen = self.autoscaled.get((spec.app, spec.name)) if spec.autoscale else None
        return chosen or (spec.replicas, "")

    def set_route(self, route: RouteSpec) -> None:
        self._call(f"route {route.app}/{route.level} {route.weights}")
        self.routes[(route.app, route.level)] = route

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        """One ready pod per replica, running the service's model: a converged cluster."""
        return [Pod(f"{spec.name}-{i}", spec.app, spec.name, spec.level, "Running", True, 0, 60.0, spec.model.version,
                    "memory") for (spec_app, name), spec in sorted(self.services.items())
                if spec_app == app and service in (None, name) for i in range(self._running(spec)[0])]

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
