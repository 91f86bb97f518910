"""LocalBackend: the ClusterBackend of the embedded mode, a client of the local supervisor.

It never touches a process: it writes what should run into desired.json (under
a lock, bumping the service's generation as a Deployment does) and reads what
runs from the supervisor's observed.json. `apply` and `set_route` start the
supervisor when it is not running, so `kanri switch` just works; `kanri local
down` stops it with everything it runs.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from kanri.serving.config import SERVICE_LEVELS, data_dir

from ..base import (
    DNS_LABEL,
    SCALE_METRICS,
    ActualService,
    ClusterError,
    ClusterState,
    Pod,
    RolloutStatus,
    RouteSpec,
    ServiceSpec,
    route_problems,
)
from .control import running_supervisor, start_supervisor
from .files import locked
from .paths import LocalPaths
from .processes import free_port
from .settings import SupervisorSettings
from .state import Desired, DesiredService, Observed, key, spec_from_dict

POLL_SECONDS = 0.1
ROUTE_ACK_SECONDS = 15.0


def _check_spec(spec: ServiceSpec) -> None:
    problems = [f"{what} {value!r} must be lowercase letters, digits and '-' (a DNS label)"
                for what, value in (("application", spec.app), ("service", spec.name)) if not DNS_LABEL.match(value)]
    if spec.level not in SERVICE_LEVELS:
        problems.append(f"service level must be one of {', '.join(SERVICE_LEVELS)}, got {spec.level!r}")
    if spec.max_surge < 0 or spec.max_unavailable < 0 or spec.max_surge + spec.max_unavailable == 0:
        problems.append("max surge and max unavailable must not be negative, nor both 0 (nothing could move)")
    lowest = 0 if spec.scales_on_calls else 1  # calls wake a service at zero; CPU cannot
    if spec.replicas < 0 or not lowest <= spec.min_replicas <= spec.max_replicas:
        problems.append(f"replicas must be ≥ 0 and {lowest} ≤ min replicas ≤ max replicas")
    if spec.scale_metric not in SCALE_METRICS or (spec.scale_metric != "cpu" and spec.scale_target <= 0):
        problems.append(f"scaling on {spec.scale_metric!r} with a target of {spec.scale_target:g} per replica: "
                        f"scale on one of {', '.join(SCALE_METRICS)}, with a target above 0")
    if problems:
        raise ClusterError(f"cannot apply {spec.app}/{spec.name}: {'; '.join(problems)}")


class LocalBackend:
    name = "local"

    def __init__(self, home: Path | None = None, settings: SupervisorSettings | None = None) -> None:
        """settings are handed to the supervisor when this backend starts it (an already running one keeps its own)."""
        self.paths = LocalPaths(Path(home or data_dir()).resolve())
        self.settings = settings
        self.host = socket.gethostname()

    # -- writing what should run --

    def apply(self, spec: ServiceSpec) -> None:
        _check_spec(spec)
        with locked(self.paths.desired_lock):
            desired = Desired.load(self.paths.desired)
            current = desired.services.get(key(spec.app, spec.name))
            if current and current.spec.level != spec.level:
                raise ClusterError(f"{spec.app}/{spec.name} runs at {current.spec.level}; a service cannot change "
                                   "level: delete it and apply it again")
            if not current or current.spec != spec:
                generation = current.generation + 1 if current else 1
                desired.services[key(spec.app, spec.name)] = DesiredService(spec, generation)
            desired.router_ports.setdefault(key(spec.app, spec.level), free_port())
            desired.router_http_ports.setdefault(key(spec.app, spec.level), free_port())
            desired.save(self.paths.desired)
        start_supervisor(self.paths, self.settings)

    def set_route(self, route: RouteSpec) -> None:
        with locked(self.paths.desired_lock):
            desired = Desired.load(self.paths.desired)
            services = {s.spec.name for s in desired.services.values()
                        if s.spec.app == route.app and s.spec.level == route.level}
            if problems := route_problems(route, services):
                raise ClusterError(f"cannot route {route.app} at {route.level}: {'; '.join(problems)}")
            desired.routes[key(route.app, route.level)] = route
            desired.save(self.paths.desired)
        start_supervisor(self.paths, self.settings)
        self._await_router(route)

    def _await_router(self, route: RouteSpec) -> None:
        """Return once the router answers with the new weights, so the caller's next call follows them."""
        deadline = time.monotonic() + ROUTE_ACK_SECONDS
        while Observed.load(self.paths.observed).routes.get(key(route.app, route.level)) != route:
            if time.monotonic() > deadline:
                raise ClusterError(f"the router of {route.app} at {route.level} has not taken the new weights "
                                   f"within {ROUTE_ACK_SECONDS:.0f} s; is the supervisor running (kanri local status)?")
            time.sleep(0.05)

    def delete(self, app: str, service: str) -> None:
        with locked(self.paths.desired_lock):
            desired = Desired.load(self.paths.desired)
            if desired.services.pop(key(app, service), None) is not None:
                desired.save(self.paths.desired)

    # -- reading what runs --

    def status(self, app: str, service: str) -> RolloutStatus:
        wanted = Desired.load(self.paths.desired).services.get(key(app, service))
        if wanted is None:
            raise ClusterError(f"{app}/{service} is not deployed on the local cluster")
        record = Observed.load(self.paths.observed).services.get(key(app, service))
        if record is None or record.generation < wanted.generation or not record.rollout:
            waiting = ("waiting for the supervisor to take generation "
                       f"{wanted.generation}" if running_supervisor(self.paths)
                       else "the local supervisor is not running: start it with `kanri local up`")
            return RolloutStatus(app, service, desired=wanted.spec.replicas, updated=0, ready=0, available=0,
                                 converged=False, message=waiting)
        return RolloutStatus(app, service, **record.rollout)

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            now = self.status(app, service)
            progress = dataclasses.replace(now, scale_reason="")  # the autoscaler's figures move at every tick
            if progress != last:
                yield now
                last = progress
            if now.converged or now.stuck:
                return
            if time.monotonic() > deadline:
                yield RolloutStatus(app, service, now.desired, now.updated, now.ready, now.available,
                                    converged=False, stuck="timed out", message=now.message)
                return
            time.sleep(POLL_SECONDS)

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        now = time.time()
        return [Pod(name=p.name, app=p.app, service=p.service, level=p.level, phase=p.phase, ready=p.ready,
                    restarts=p.restarts, age_seconds=now - p.created_at, model_version=p.model_version,
                    host=self.host, pid=p.pid, address=f"127.0.0.1:{p.port}" if p.pid else "",
                    metrics_address=f"127.0.0.1:{p.metrics_port}" if p.pid else "")
                for record in Observed.load(self.paths.observed).services.values()
                for p in record.pods if p.app == app and (service is None or p.service == service)]

    def actual_state(self) -> ClusterState:
        observed = Observed.load(self.paths.observed)
        services = []
        for record in observed.services.values():
            spec = spec_from_dict(record.spec)
            services.append(ActualService(app=spec.app, name=spec.name, level=spec.level,
                                          model_version=spec.model.version, model_sha256=spec.model.sha256,
                                          replicas=record.replicas, min_replicas=spec.min_replicas,
                                          max_replicas=spec.max_replicas, cpu_threshold=spec.cpu_threshold,
                                          autoscale=spec.autoscale, scale_metric=spec.scale_metric,
                                          scale_target=spec.scale_target,
                                          scale_to_zero_after=spec.scale_to_zero_after))
        return ClusterState(services=services, routes=list(observed.routes.values()))

    def address(self, app: str, level: str) -> str:
        return f"127.0.0.1:{_router_port(Desired.load(self.paths.desired).router_ports, app, level)}"

    def http_address(self, app: str, level: str) -> str:
        return f"http://127.0.0.1:{_router_port(Desired.load(self.paths.desired).router_http_ports, app, level)}"


def _router_port(ports: dict[str, int], app: str, level: str) -> int:
    if (port := ports.get(key(app, level))) is None:
        raise ClusterError(f"{app} has no service at {level} on the local cluster: apply one first")
    return port
