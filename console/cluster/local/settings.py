"""The supervisor's timings, passed to its process as KANRI_LOCAL_* variables (tests make them short)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

ENV_PREFIX = "KANRI_LOCAL_"


@dataclass(frozen=True)
class SupervisorSettings:
    tick_seconds: float = 0.2
    """How often the supervisor reconciles and probes every replica's gRPC health."""
    probe_timeout_seconds: float = 1.0
    liveness_failures: int = 3
    """Consecutive health checks without an answer after which a replica is killed and restarted."""
    startup_seconds: float = 30.0
    """Health checks of a freshly started replica do not count as liveness failures before this."""
    restart_backoff_max_seconds: float = 30.0
    """Restarts back off 0, 1, 2, 4... seconds up to this; the count resets after 10 s up and ready."""
    progress_deadline_seconds: float = 120.0
    """A rollout that makes no progress for this long is stuck (Kubernetes' progressDeadlineSeconds)."""
    crash_loop_restarts: int = 3
    """A new replica that exits this many times makes the rollout stuck at once."""
    drain_delay_seconds: float = 1.0
    """A replica leaving keeps answering this long after the router stopped sending to it."""
    grace_seconds: float = 20.0
    autoscale_interval_seconds: float = 15.0
    autoscale_cooldown_seconds: float = 60.0
    """No autoscaling change within this long after the previous one."""
    autoscale_tolerance: float = 0.1
    """CPU within this ratio of the threshold changes nothing (as the HPA does)."""
    stable_window_seconds: float = 60.0
    """Calls are averaged over this long to scale on concurrency or rps (Knative's stable window); its tenth is
    the panic window."""
    scale_down_delay_seconds: float = 0.0
    """Scaling on calls goes down only to the most replicas wanted within this long (Knative's default: 0)."""
    router_poll_seconds: float = 0.1
    """How often a router looks for a new routing table."""
    routers_per_level: int = 2
    """Router processes sharing a level's ports (SO_REUSEPORT): when one dies, the others take its clients'
    reconnections while the supervisor starts it again (1-3 s), so a router's death loses no call."""

    def to_env(self) -> dict[str, str]:
        return {ENV_PREFIX + name.upper(): str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SupervisorSettings:
        values = {}
        for f in fields(cls):
            if (text := environ.get(ENV_PREFIX + f.name.upper())) is not None:
                values[f.name] = int(text) if f.type == "int" else float(text)
        return cls(**values)
