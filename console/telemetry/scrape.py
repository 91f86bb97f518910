"""MetricsSource for the embedded cluster: reads each local replica's /metrics itself, no Prometheus needed.

Rates come from this source's own scrapes, kept over a rolling window: each
snapshot scrapes every pod once, and a pod seen for the first time is scraped
twice `first_gap` apart so its first answer already has rates. CPU and memory
come from the replica's process tree through psutil when its pid is known (the
process's own counters, workers included), else from the runtime's gauges.
Embedded replicas have no CPU limit: the CPU share is of the machine's cores.
NVML reports whole devices, so a service's GPU figures are the busiest pod's,
not a sum.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial

import psutil

from kanri.console.cluster.base import Pod
from kanri.console.telemetry import rollup
from kanri.console.telemetry.bounded import BoundedCalls
from kanri.console.telemetry.exposition import Reading, parse
from kanri.console.telemetry.rollup import PodRates
from kanri.console.telemetry.types import (
    FIGURE_NAMES,
    Figures,
    MetricsHistory,
    MetricsSnapshot,
    PodFigures,
    Series,
    ServiceFigures,
    TelemetryUnavailable,
)


class ScrapeMetrics:
    def __init__(self, pods: Callable[[], list[Pod]], *, window_seconds: float = 10.0, first_gap: float = 0.5,
                 history_seconds: float = 900.0, timeout: float = 2.0) -> None:
        self._pods = pods
        self.window_seconds = window_seconds
        self.first_gap = first_gap
        self.history_seconds = history_seconds
        self.timeout = timeout
        self._calls = BoundedCalls("local metrics", timeout, workers=16)
        self._lock = threading.Lock()
        self._readings: dict[str, deque[Reading]] = {}
        self._history: dict[tuple[str, str, str], deque[tuple[float, Figures]]] = {}  # (app, service, pod or "")
        self._cores = os.cpu_count() or 1

    def snapshot(self, app: str, service: str | None = None) -> MetricsSnapshot | TelemetryUnavailable:
        deadline = self._calls.deadline()
        listed = self._calls.run(self._pods, deadline)
        if isinstance(listed, TelemetryUnavailable):
            return listed
        pods = sorted((p for p in listed if p.app == app and service in (None, p.service)), key=lambda p: p.name)
        self._scrape(pods, deadline)
        with self._lock:
            fresh = [p for p in pods if len(self._readings.get(p.name, ())) == 1]
        if fresh and time.monotonic() + self.first_gap < deadline:
            time.sleep(self.first_gap)
            self._scrape(fresh, deadline)
        with self._lock:
            rates = {p.name: self._rates(p) for p in pods}
        taken_at = time.time()
        members: dict[str, list[Pod]] = {}
        for p in pods:
            members.setdefault(p.service, []).append(p)
        services = [ServiceFigures(name, rollup.figures([rates[p.name] for p in group], one_machine=True), tuple(
            PodFigures(p.name, name, rollup.figures([rates[p.name]], one_machine=True)) for p in group))
            for name, group in sorted(members.items())]
        self._remember(app, taken_at, services)
        return MetricsSnapshot(app, taken_at, tuple(services))

    def history(self, app: str, service: str | None = None, window_seconds: float = 300.0,
                step_seconds: float = 10.0) -> MetricsHistory | TelemetryUnavailable:
        """What this source's own snapshots saw over the window (one point per snapshot, not per step)."""
        since = time.time() - window_seconds
        services: dict[str, dict[str, Series]] = {}
        pods: dict[str, dict[str, Series]] = {}
        with self._lock:
            for (point_app, point_service, pod), points in self._history.items():
                if point_app == app and service in (None, point_service):
                    recent = _series([(t, figures) for t, figures in points if t >= since])
                    if pod:
                        pods[pod] = recent
                    else:
                        services[point_service] = recent
        return MetricsHistory(app, window_seconds, services, pods)

    def close(self) -> None:
        self._calls.close()

    def _scrape(self, pods: list[Pod], deadline: float) -> None:
        results = self._calls.run_all({p.name: partial(self._read, p) for p in pods}, deadline)
        now = time.monotonic()
        with self._lock:
            for name, reading in results.items():
                readings = self._readings.setdefault(name, deque())
                if isinstance(reading, Reading):
                    readings.append(reading)
            for name, readings in list(self._readings.items()):
                while readings and readings[0].at < now - self.window_seconds:
                    readings.popleft()
                if not readings:
                    del self._readings[name]

    def _read(self, pod: Pod) -> Reading:
        at = time.monotonic()
        if not pod.metrics_address:
            reading = Reading(at)
        else:
            with urllib.request.urlopen(f"http://{pod.metrics_address}/metrics", timeout=self.timeout) as response:
                reading = parse(response.read().decode(), at)
        if pod.pid is not None:
            cpu, memory = _process_tree(pod.pid)
            reading = replace(reading, cpu_seconds=cpu, memory_bytes=memory)
        return reading

    def _rates(self, pod: Pod) -> PodRates:
        """The pod's rates over the readings in the window; none before it has two."""
        readings = list(self._readings.get(pod.name, ()))
        if not readings:
            return PodRates(restarts=pod.restarts)
        last = readings[-1]
        seconds = last.at - readings[0].at

        def rate(values: Iterable[float]) -> float | None:
            return _increase(values) / seconds if seconds > 0 else None

        cpu = [r.cpu_seconds for r in readings if r.cpu_seconds is not None]
        buckets = {bound: rate(r.buckets.get(bound, 0.0) for r in readings) for bound in last.buckets}
        return PodRates(
            requests_per_second=rate(r.requests for r in readings),
            faults_per_second=rate(r.faults for r in readings),
            latency_buckets={bound: value for bound, value in buckets.items() if value is not None},
            in_flight=last.in_flight,
            cpu_cores=rate(cpu) if cpu else None,
            cpu_limit_cores=float(self._cores),
            memory_bytes=last.memory_bytes,
            gpu_utilization=last.gpu_utilization,
            gpu_memory_bytes=last.gpu_memory_bytes,
            restarts=pod.restarts)

    def _remember(self, app: str, taken_at: float, services: list[ServiceFigures]) -> None:
        with self._lock:
            for s in services:
                self._point((app, s.service, ""), taken_at, s.figures)
                for p in s.pods:
                    self._point((app, s.service, p.pod), taken_at, p.figures)

    def _point(self, key: tuple[str, str, str], taken_at: float, figures: Figures) -> None:
        points = self._history.setdefault(key, deque())
        points.append((taken_at, figures))
        while points and points[0][0] < taken_at - self.history_seconds:
            points.popleft()


def _increase(values: Iterable[float]) -> float:
    """How much a counter grew across successive readings; a drop is a restart from zero."""
    total, previous = 0.0, None
    for value in values:
        if previous is not None:
            total += value - previous if value >= previous else value
        previous = value
    return total


def _process_tree(pid: int) -> tuple[float, float]:
    """CPU seconds and resident bytes of a process and its children (the workers of --workers N)."""
    root = psutil.Process(pid)
    cpu = memory = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            with process.oneshot():
                times = process.cpu_times()
                cpu += times.user + times.system
                memory += process.memory_info().rss
        except psutil.Error:
            continue
    return cpu, memory


def _series(points: list[tuple[float, Figures]]) -> dict[str, Series]:
    return {name: Series(tuple((t, v) for t, figures in points if (v := getattr(figures, name)) is not None))
            for name in FIGURE_NAMES}
