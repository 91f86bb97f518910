"""A small exporter process standing in for cAdvisor, the DCGM exporter and kube-state-metrics (none run here).

It publishes their series, with their metric and label names, for the pods in
a JSON file, with values that follow known rates, so that tests and the
benchmark can check every PromQL query against a real Prometheus:

    python -m tests.fakes.gpu_exporter --port P --pods pods.json [--runtime]

Each pod: {"pod", "namespace", "app", "service", "cpu_cores", "cpu_limit",
"memory", "gpu": "dcgm" | "nvml" | null, "gpu_util", "gpu_memory", "restarts",
"rps", "error_share"}. `--runtime` also publishes the runtime's own kanri_*
series for every pod (the benchmark's 500 pods; tests use real runtimes).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kanri.serving.metrics import LATENCY_BUCKETS
from tests.support.servers import ROOT, free_port

POD = ["namespace", "pod", "container"]
GPU = ["gpu", "UUID", "modelName", *POD]
NVML = ["gpu", "uuid", *POD]
FAST_BUCKET = 0.005  # every fake request answers within 5 ms


class ClusterCollector(Collector):
    def __init__(self, pods: list[dict[str, Any]], runtime: bool) -> None:
        self.pods = pods
        self.runtime = runtime
        self.started = time.time()

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        yield from self._cadvisor(now - self.started, now)
        yield from self._dcgm()
        restarts = GaugeMetricFamily("kube_pod_container_status_restarts_total", "Restarts.", labels=POD)
        for p in self.pods:
            restarts.add_metric([p["namespace"], p["pod"], "kanri"], p.get("restarts", 0))
        yield restarts
        if self.runtime:
            yield from _runtime(self.pods, now - self.started)

    def _cadvisor(self, elapsed: float, now: float) -> Iterator[Metric]:
        """Stamped with the time the value was read, as cAdvisor does, so scrape jitter does not skew rates."""
        cpu = CounterMetricFamily("container_cpu_usage_seconds_total", "CPU.", labels=POD)
        memory = GaugeMetricFamily("container_memory_working_set_bytes", "Working set.", labels=POD)
        quota = GaugeMetricFamily("container_spec_cpu_quota", "CFS quota.", labels=POD)
        period = GaugeMetricFamily("container_spec_cpu_period", "CFS period.", labels=POD)
        for p in self.pods:
            ns, pod = p["namespace"], p["pod"]
            cpu.add_metric([ns, pod, "kanri"], p["cpu_cores"] * elapsed, timestamp=now)
            # The pod cgroup (container="") and the pause container must not be counted twice.
            cpu.add_metric([ns, pod, ""], p["cpu_cores"] * elapsed + 100, timestamp=now)
            cpu.add_metric([ns, pod, "POD"], 0.5 * elapsed, timestamp=now)
            memory.add_metric([ns, pod, "kanri"], p["memory"])
            memory.add_metric([ns, pod, ""], p["memory"] * 3)
            quota.add_metric([ns, pod, "kanri"], p["cpu_limit"] * 100_000)
            period.add_metric([ns, pod, "kanri"], 100_000)
        yield from (cpu, memory, quota, period)

    def _dcgm(self) -> Iterator[Metric]:
        util = GaugeMetricFamily("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation (%).", labels=GPU)
        used = GaugeMetricFamily("DCGM_FI_DEV_FB_USED", "Framebuffer used (MiB).", labels=GPU)
        nvml_util = GaugeMetricFamily("kanri_gpu_utilization_ratio", "GPU busy share.", labels=NVML)
        nvml_used = GaugeMetricFamily("kanri_gpu_memory_used_bytes", "GPU memory.", labels=NVML)
        for i, p in enumerate(self.pods):
            ns, pod, uuid = p["namespace"], p["pod"], f"GPU-{i:08d}"
            if p.get("gpu") == "dcgm":
                util.add_metric(["0", uuid, "NVIDIA H100", ns, pod, "kanri"], p["gpu_util"] * 100)
                used.add_metric(["0", uuid, "NVIDIA H100", ns, pod, "kanri"], p["gpu_memory"] / 1048576)
            elif p.get("gpu") == "nvml":
                nvml_util.add_metric(["0", uuid, ns, pod, "kanri"], p["gpu_util"])
                nvml_used.add_metric(["0", uuid, ns, pod, "kanri"], p["gpu_memory"])
        yield from (util, used, nvml_util, nvml_used)


def _runtime(pods: list[dict[str, Any]], elapsed: float) -> Iterator[Metric]:
    """The runtime's request metrics as a `kanri serve` per pod would publish them, pod labels added."""
    identity = ["app", "service", "service_level", "namespace", "pod"]
    requests = CounterMetricFamily("kanri_requests", "RPCs.", labels=[*identity, "model_version", "method", "code"])
    latency = HistogramMetricFamily("kanri_request_duration_seconds", "Latency.",
                                    labels=[*identity, "model_version", "method"])
    in_flight = GaugeMetricFamily("kanri_requests_in_flight", "In flight.", labels=identity)
    for p in pods:
        labels = [p["app"], p["service"], "production", p["namespace"], p["pod"]]
        total = p.get("rps", 0.0) * elapsed
        errors = total * p.get("error_share", 0.0)
        requests.add_metric([*labels, "1", "Predict", "OK"], total - errors)
        requests.add_metric([*labels, "1", "Predict", "INTERNAL"], errors)
        buckets = [(str(b), 0.0 if b < FAST_BUCKET else total) for b in LATENCY_BUCKETS] + [("+Inf", total)]
        latency.add_metric([*labels, "1", "Predict"], buckets, total * 0.002)
        in_flight.add_metric(labels, 1)
    yield from (requests, latency, in_flight)


def start(pods: list[dict[str, Any]], folder: Path, runtime: bool = False) -> tuple[subprocess.Popen, str]:
    """Run the exporter as its own process; answers it and the host:port to scrape."""
    port = free_port()
    pods_file = folder / f"exporter-{port}.json"
    pods_file.write_text(json.dumps(pods))
    args = [sys.executable, "-m", "tests.fakes.gpu_exporter", "--port", str(port), "--pods", str(pods_file)]
    return subprocess.Popen(args + (["--runtime"] if runtime else []), cwd=ROOT), f"127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pods", type=Path, required=True)
    parser.add_argument("--runtime", action="store_true")
    args = parser.parse_args()
    registry = CollectorRegistry()
    registry.register(ClusterCollector(json.loads(args.pods.read_text()), args.runtime))
    start_http_server(args.port, addr="127.0.0.1", registry=registry)
    signal.pause()  # until SIGTERM ends it


if __name__ == "__main__":
    main()
