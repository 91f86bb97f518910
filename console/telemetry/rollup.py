"""Figures from what pods did: one pod's, or a service's from all of its pods, the same way for every source.

Sources give each pod's rates (requests, server faults, latency buckets) and
gauges; quantiles come from the pods' buckets summed, never from averaging
pods' quantiles. Where the pods share one machine (the embedded cluster), the
machine-wide figures (CPU cores as the limit, NVML's GPU figures) count once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kanri.console.telemetry.histogram import quantile
from kanri.console.telemetry.types import Figures


@dataclass(frozen=True)
class PodRates:
    """What one pod did lately; None where its source has no such figure."""

    requests_per_second: float | None = None
    faults_per_second: float | None = None
    latency_buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative rate
    in_flight: float | None = None
    cpu_cores: float | None = None
    cpu_limit_cores: float | None = None
    memory_bytes: float | None = None
    gpu_utilization: float | None = None
    gpu_memory_bytes: float | None = None
    restarts: float | None = None


def figures(pods: Sequence[PodRates], one_machine: bool = False) -> Figures:
    requests = _sum(p.requests_per_second for p in pods)
    faults = _sum(p.faults_per_second for p in pods)
    buckets: dict[float, float] = {}
    for p in pods:
        for bound, rate in p.latency_buckets.items():
            buckets[bound] = buckets.get(bound, 0.0) + rate
    cpu = _sum(p.cpu_cores for p in pods)
    limits = [p.cpu_limit_cores for p in pods if p.cpu_limit_cores]
    limit = (max(limits) if one_machine else sum(limits)) if limits else None
    gpu_busy = [p.gpu_utilization for p in pods if p.gpu_utilization is not None]
    gpu_memory = [p.gpu_memory_bytes for p in pods if p.gpu_memory_bytes is not None]
    return Figures(
        requests_per_second=requests,
        error_ratio=(faults or 0.0) / requests if requests else None,
        p50_seconds=quantile(0.5, buckets),
        p99_seconds=quantile(0.99, buckets),
        in_flight=_sum(p.in_flight for p in pods),
        cpu_cores=cpu,
        cpu_limit_share=cpu / limit if cpu is not None and limit else None,
        memory_bytes=_sum(p.memory_bytes for p in pods),
        gpu_utilization=(max(gpu_busy) if one_machine else sum(gpu_busy) / len(gpu_busy)) if gpu_busy else None,
        gpu_memory_bytes=(max(gpu_memory) if one_machine else sum(gpu_memory)) if gpu_memory else None,
        restarts=_sum(p.restarts for p in pods))


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
