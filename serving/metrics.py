"""Prometheus metrics of the runtime, served on --metrics-port.

Names and labels are what console/telemetry queries; keep them stable.
Label children are cached so the request path does no label lookups.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from types import ModuleType

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("kanri.metrics")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
IDENTITY = ("app", "service", "service_level")


class RuntimeMetrics:
    def __init__(self, registry: CollectorRegistry, app: str, service: str, service_level: str) -> None:
        self._identity = (app, service, service_level)
        self.requests = Counter("kanri_requests", "RPCs answered, by outcome.",
                                [*IDENTITY, "model_version", "method", "code"], registry=registry)
        self.latency = Histogram("kanri_request_duration_seconds", "Time to answer an RPC.",
                                 [*IDENTITY, "model_version", "method"], buckets=LATENCY_BUCKETS,
                                 registry=registry)
        self.in_flight = Gauge("kanri_requests_in_flight", "RPCs being answered now.", IDENTITY,
                               registry=registry, multiprocess_mode="livesum").labels(*self._identity)
        self.batch_size = Histogram("kanri_batch_size", "Inputs per predict_batch call.", IDENTITY,
                                    buckets=BATCH_BUCKETS, registry=registry).labels(*self._identity)
        self.load_seconds = Gauge("kanri_model_load_seconds", "Time the live model took to load.",
                                  IDENTITY, registry=registry, multiprocess_mode="max").labels(*self._identity)
        self.model_info = Gauge("kanri_model_info", "The live model (1) and the ones it replaced (0).",
                                [*IDENTITY, "model_version", "sha256", "format"], registry=registry,
                                multiprocess_mode="max")
        self.model_loads = Counter("kanri_model_loads", "Model loads, by result.", [*IDENTITY, "result"],
                                   registry=registry)
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def observe(self, model_version: str, method: str, code: str, seconds: float) -> None:
        key = (model_version, method, code)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(*self._identity, model_version, method, code),
                        self.latency.labels(*self._identity, model_version, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, size: int) -> None:
        self.batch_size.observe(size)

    def model_loaded(self, version: str, sha256: str, fmt: str, seconds: float,
                     previous: tuple[str, str, str] | None) -> None:
        if previous is not None:
            # Set to 0 rather than removed: removal does not reach other worker processes.
            self.model_info.labels(*self._identity, *previous).set(0)
        self.model_info.labels(*self._identity, version, sha256, fmt).set(1)
        self.load_seconds.set(seconds)
        self.model_loads.labels(*self._identity, "ok").inc()

    def model_load_failed(self) -> None:
        self.model_loads.labels(*self._identity, "error").inc()


class ProcessTreeCollector(Collector):
    """CPU and memory of this process and its children (the workers of --workers N)."""

    def __init__(self, pid: int | None = None) -> None:
        self._process = psutil.Process(pid or os.getpid())

    def collect(self) -> Iterator[Metric]:
        processes = [self._process, *self._process.children(recursive=True)]
        cpu = rss = 0.0
        for p in processes:
            try:
                with p.oneshot():
                    times = p.cpu_times()
                    cpu += times.user + times.system
                    rss += p.memory_info().rss
            except psutil.Error:
                continue
        yield GaugeMetricFamily("kanri_process_cpu_seconds", "CPU seconds used by the runtime's processes.",
                                value=cpu)
        yield GaugeMetricFamily("kanri_process_resident_memory_bytes", "Resident memory of the runtime's processes.",
                                value=rss)
        yield GaugeMetricFamily("kanri_processes", "Processes of the runtime.", value=len(processes))


class GpuCollector(Collector):
    """GPU utilisation and memory through NVML; registered only when a GPU is present."""

    def __init__(self, nvml: ModuleType) -> None:
        self._nvml = nvml
        self._count = nvml.nvmlDeviceGetCount()

    def collect(self) -> Iterator[Metric]:
        util = GaugeMetricFamily("kanri_gpu_utilization_ratio", "GPU busy share (0-1).", labels=["gpu", "uuid"])
        used = GaugeMetricFamily("kanri_gpu_memory_used_bytes", "GPU memory in use.", labels=["gpu", "uuid"])
        total = GaugeMetricFamily("kanri_gpu_memory_total_bytes", "GPU memory in all.", labels=["gpu", "uuid"])
        for i in range(self._count):
            try:
                handle = self._nvml.nvmlDeviceGetHandleByIndex(i)
                uuid = self._nvml.nvmlDeviceGetUUID(handle)
                rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            except self._nvml.NVMLError as exc:
                log.warning("NVML could not read GPU %d: %s", i, exc)
                continue
            labels = [str(i), str(uuid)]
            util.add_metric(labels, rates.gpu / 100.0)
            used.add_metric(labels, memory.used)
            total.add_metric(labels, memory.total)
        yield from (util, used, total)


def gpu_collector() -> GpuCollector | None:
    """A collector when NVML finds at least one GPU, else None (the metrics are then absent)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() == 0:
            return None
        return GpuCollector(pynvml)
    except Exception:
        return None
