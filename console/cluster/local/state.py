"""The two documents the backend and the supervisor exchange, and their JSON form.

`Desired` is written by LocalBackend (under a lock: several consoles may apply at
once) and only read by the supervisor; `Observed` is written by the supervisor
only. Both are replaced atomically, so neither side ever reads half a change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base import ModelRef, Resources, RouteSpec, ServiceSpec
from .files import read_json, write_json


def key(app: str, name: str) -> str:
    """"app/service" or "app/level": the keys of every map in the state files."""
    return f"{app}/{name}"


def spec_to_dict(spec: ServiceSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def spec_from_dict(data: dict[str, Any]) -> ServiceSpec:
    return ServiceSpec(**{**data, "model": ModelRef(**data["model"]), "resources": Resources(**data["resources"])})


def route_from_dict(data: dict[str, Any]) -> RouteSpec:
    return RouteSpec(**data)


@dataclass
class DesiredService:
    spec: ServiceSpec
    generation: int


@dataclass
class Desired:
    services: dict[str, DesiredService] = field(default_factory=dict)
    routes: dict[str, RouteSpec] = field(default_factory=dict)
    router_ports: dict[str, int] = field(default_factory=dict)
    """Allocated once per app/level and never changed, so clients keep one address."""
    router_http_ports: dict[str, int] = field(default_factory=dict)
    """The same for HTTP."""

    @classmethod
    def load(cls, path: Path) -> Desired:
        data = read_json(path, {})
        return cls(
            services={k: DesiredService(spec_from_dict(v["spec"]), v["generation"])
                      for k, v in data.get("services", {}).items()},
            routes={k: route_from_dict(v) for k, v in data.get("routes", {}).items()},
            router_ports=data.get("router_ports", {}),
            router_http_ports=data.get("router_http_ports", {}))

    def save(self, path: Path) -> None:
        write_json(path, {
            "services": {k: {"spec": spec_to_dict(s.spec), "generation": s.generation}
                         for k, s in self.services.items()},
            "routes": {k: dataclasses.asdict(r) for k, r in self.routes.items()},
            "router_ports": self.router_ports,
            "router_http_ports": self.router_http_ports})


@dataclass
class PodRecord:
    """One replica as the supervisor tracks it; pid and create_time (processes.start_time) identify its process for
    adoption."""

    name: str
    app: str
    service: str
    level: str
    template: str
    model_version: int | None
    created_at: float
    command: list[str] = field(default_factory=list)
    """`kanri serve` and its options but the ports, which are chosen at every start."""
    port: int = 0
    metrics_port: int = 0
    http_port: int = 0
    pid: int | None = None
    create_time: float = 0.0
    started_at: float = 0.0
    log_offset: int = 0
    """Size of the log when the process last started: what follows is this run's output."""
    phase: str = "Pending"
    ready: bool = False
    ready_since: float | None = None
    restarts: int = 0
    backoff_restarts: int = 0
    restart_at: float = 0.0
    last_exit: str = ""
    terminating_since: float | None = None

    def available(self, now: float, min_ready_seconds: float) -> bool:
        return self.ready and self.ready_since is not None and now - self.ready_since >= min_ready_seconds


@dataclass
class RouterProcess:
    """One of a level's router processes, as the supervisor last started it."""

    pid: int | None = None
    create_time: float = 0.0
    restarts: int = 0


@dataclass
class RouterRecord:
    app: str
    level: str
    port: int
    http_port: int = 0
    """0: no HTTP (its level was applied before routers served HTTP, and not since)."""
    processes: list[RouterProcess] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RouterRecord:
        data = dict(data)
        if "pid" in data:  # written by a supervisor that ran one router per level: adopt it as the first
            data["processes"] = [{name: data.pop(name) for name in ("pid", "create_time", "restarts") if name in data}]
        return cls(**{**data, "processes": [RouterProcess(**p) for p in data.get("processes", [])]})


@dataclass
class ServiceRecord:
    """A service as it runs: the spec being applied, its current replica target and rollout status."""

    spec: dict[str, Any]
    generation: int
    replicas: int
    last_scale_at: float = 0.0
    scale_reason: str = ""
    """Why the autoscaler set `replicas`, in its words, as of its last look."""
    last_progress_at: float = 0.0
    progress: list[int] = field(default_factory=list)
    rollout: dict[str, Any] = field(default_factory=dict)
    pods: list[PodRecord] = field(default_factory=list)


@dataclass
class Observed:
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    routers: dict[str, RouterRecord] = field(default_factory=dict)
    routes: dict[str, RouteSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Observed:
        data = read_json(path, {})
        services = {}
        for k, v in data.get("services", {}).items():
            pods = [PodRecord(**p) for p in v.pop("pods", [])]
            services[k] = ServiceRecord(**v, pods=pods)
        return cls(services=services,
                   routers={k: RouterRecord.from_dict(v) for k, v in data.get("routers", {}).items()},
                   routes={k: route_from_dict(v) for k, v in data.get("routes", {}).items()})

    def to_dict(self) -> dict[str, Any]:
        return {"services": {k: dataclasses.asdict(v) for k, v in self.services.items()},
                "routers": {k: dataclasses.asdict(v) for k, v in self.routers.items()},
                "routes": {k: dataclasses.asdict(v) for k, v in self.routes.items()}}
