"""The ClusterBackend contract: what the operations layer asks of whatever runs services.

The contract is declarative, as Kubernetes is: `apply` states what a service
should be (model, replicas, resources, scaling policy) and returns once the
change is accepted; the backend converges on it by itself. A model change is a
rolling update, a replica change is a scale; `rollout` reports the progress of
either until it converges or is stuck. The registry stays the source of truth;
`actual_state` reads back what really runs so that sync can show drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kanri.console.errors import KanriError

# Application and service names: RFC 1035 labels, because they become Kubernetes object names.
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class ClusterError(KanriError):
    """The cluster refused or could not be reached; the message says which and what to do."""


@dataclass(frozen=True)
class ModelRef:
    """A model version as a replica loads it: the store URI, verified against its sha256."""

    version: int
    uri: str
    sha256: str


@dataclass(frozen=True)
class Resources:
    """Kubernetes quantities ("500m", "512Mi"); empty means not set."""

    cpu_request: str = ""
    cpu_limit: str = ""
    memory_request: str = ""
    memory_limit: str = ""
    gpus: int = 0


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a backend needs to run one service of an application at one level."""

    app: str
    name: str
    level: str
    predictor: str
    model: ModelRef
    model_store: str
    replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 1
    cpu_threshold: int = 80
    max_surge: int = 1
    max_unavailable: int = 0
    min_ready_seconds: int = 0
    resources: Resources = field(default_factory=Resources)
    port: int = 50051
    image: str = ""
    autoscale: bool = False
    scale_metric: str = "cpu"
    """What autoscaling follows (SCALE_METRICS): CPU against cpu_threshold, or the calls against scale_target."""
    scale_target: float = 0.0
    """Per replica: calls in flight (concurrency) or calls per second (rps); unused for CPU."""
    scale_to_zero_after: float = 0.0
    """With min_replicas 0: seconds without a call before the last replica goes."""

    @property
    def scales_on_calls(self) -> bool:
        """Autoscaled on concurrency or rps: the calls drive it, and may wake it from zero."""
        return self.autoscale and self.scale_metric in CALL_METRICS


CALL_METRICS = ("concurrency", "rps")
"""Knative's KPA's: the calls in flight, or per second, per replica; they may scale to zero."""
SCALE_METRICS = ("cpu", *CALL_METRICS)
"""cpu is the HorizontalPodAutoscaler's."""


@dataclass(frozen=True)
class RouteSpec:
    """Traffic of one application at one level: weights over its services summing to 100,
    and optionally a share of calls copied to a shadow service whose answers are discarded."""

    app: str
    level: str
    weights: dict[str, int]
    mirror: str = ""
    mirror_percent: int = 0


def route_problems(route: RouteSpec, services: set[str]) -> list[str]:
    """Why a backend cannot apply a route, given the services of its application at its level (none: it can)."""
    named = [*route.weights, *([route.mirror] if route.mirror else [])]
    problems = [f"{name!r} is not a service of {route.app} at {route.level}" for name in named if name not in services]
    if sum(route.weights.values()) != 100 or any(w < 0 for w in route.weights.values()):
        problems.append(f"weights must be ≥ 0 and sum to 100, got {route.weights}")
    if not 0 <= route.mirror_percent <= 100:
        problems.append("mirror percent must be between 0 and 100")
    return problems


@dataclass(frozen=True)
class Pod:
    """One replica. `age_seconds` is since it started; pid, address (gRPC host:port) and
    metrics_address (host:port of /metrics) are set by the local backend.

    `status` is what `kubectl get pods` shows (Init:CrashLoopBackOff, CrashLoopBackOff, ...), because the
    phase hides a failing init container or a crash loop; a backend that sets none gets its phase.
    `reason` says why the pod is not running well, in the words of whoever knows ("" when it is)."""

    name: str
    app: str
    service: str
    level: str
    phase: str
    ready: bool
    restarts: int
    age_seconds: float
    model_version: int | None
    host: str
    cluster: str = ""
    pid: int | None = None
    address: str = ""
    metrics_address: str = ""
    status: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", self.phase)


@dataclass(frozen=True)
class RolloutStatus:
    """`kubectl rollout status` in one object: stuck carries the reason the rollout stopped."""

    app: str
    service: str
    desired: int
    updated: int
    ready: int
    available: int
    converged: bool
    stuck: str = ""
    message: str = ""
    cluster: str = ""
    scale_reason: str = ""
    """Why an autoscaled service wants `desired` replicas now, in the autoscaler's words ("" when not said)."""


@dataclass(frozen=True)
class ActualService:
    """What a backend reports really running, in the registry's terms, for sync and drift."""

    app: str
    name: str
    level: str
    model_version: int | None
    model_sha256: str
    replicas: int
    min_replicas: int
    max_replicas: int
    cpu_threshold: int
    autoscale: bool
    cluster: str = ""
    scale_metric: str = "cpu"
    scale_target: float = 0.0
    scale_to_zero_after: float = 0.0
    wakes_from_zero: bool = True
    """Whether calls still bring it back from zero replicas (Kubernetes: its ScaledObject's waking trigger is
    there, as kanri wrote it)."""


@dataclass(frozen=True)
class AccessDrift:
    """A level whose objects deciding who may call it (Kubernetes: Istio's mesh security, by kind) are not those
    the backend's configuration asks for: missing, left over, or edited."""

    app: str
    level: str
    desired: tuple[str, ...]
    actual: tuple[str, ...]
    cluster: str = ""


@dataclass(frozen=True)
class ClusterState:
    services: list[ActualService]
    routes: list[RouteSpec]
    access_drift: list[AccessDrift] = field(default_factory=list)
    """Only from a backend that guards levels itself (Kubernetes with mesh security configured or left over)."""


REPLICA_WORKERS = 1
"""Worker processes of each `kanri serve` kanri starts (a pod, a local replica, an evaluation server): one
process loads the model, and a service scales by replicas, each within its memory. `kanri serve`'s own
default, one per usable CPU, is for a server run by hand."""


@runtime_checkable
class ClusterBackend(Protocol):
    """Implemented by console.cluster.local.LocalBackend and console.cluster.kubernetes.KubernetesBackend."""

    name: str

    def apply(self, spec: ServiceSpec) -> None:
        """Create or update a service; returns once the change is accepted, not converged."""

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        """Yield status on every change until converged, stuck, or timeout (then stuck="timed out")."""

    def status(self, app: str, service: str) -> RolloutStatus:
        """The rollout status now."""

    def set_route(self, route: RouteSpec) -> None:
        """Set the weights (and mirror) of an application at a level; takes effect without dropping calls."""

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        """Replicas of one service, or of every service of the application."""

    def actual_state(self) -> ClusterState:
        """Every service and route this backend manages, as it really is."""

    def delete(self, app: str, service: str) -> None:
        """Remove a service and its replicas; deleting what does not exist is not an error."""

    def address(self, app: str, level: str) -> str:
        """The one stable address ("host:port", gRPC) that reaches an application at a service level."""

    def http_address(self, app: str, level: str) -> str:
        """The same route's HTTP base URL ("http://host:port"): the Open Inference Protocol's REST API and
        kanri's Predict in JSON, split by the same weights."""
