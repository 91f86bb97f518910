"""Every PromQL query the console runs: one query per figure, answering for all pods (or services) at once.

Where figures come from:

- requests/s, error ratio, p50/p99 latency, in-flight: the runtime's own
  metrics (kanri_requests_total, kanri_request_duration_seconds, kanri_requests_in_flight);
- CPU, CPU limit, memory working set: cAdvisor (container_*), summed over the pod's containers;
- GPU: the DCGM exporter (DCGM_FI_DEV_GPU_UTIL in %, DCGM_FI_DEV_FB_USED in MiB),
  else the runtime's NVML gauges (kanri_gpu_*);
- restarts: kube-state-metrics (kube_pod_container_status_restarts_total).

cAdvisor, DCGM and kube-state-metrics series carry no application labels, so
they are joined to the application's pods through the runtime's in-flight gauge,
which every replica publishes from its start, with pod and namespace labels
added by the scrape (Kubernetes relabeling). Clusters name those labels
differently (`pod` or `pod_name`, ...): `Labels` says how this one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# gRPC codes that are the server's fault; the error ratio counts these and not the
# caller's mistakes (INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED, ...), which a healthy service answers.
SERVER_FAULT_CODES = ("INTERNAL", "UNAVAILABLE", "UNKNOWN", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED",
                      "DATA_LOSS", "UNIMPLEMENTED")

Level = Literal["pod", "service"]


@dataclass(frozen=True)
class Labels:
    """Label names as this cluster's Prometheus spells them."""

    pod: str = "pod"
    namespace: str = "namespace"
    container: str = "container"
    app: str = "app"
    service: str = "service"


def _matchers(**pairs: str | None) -> str:
    return ", ".join(f'{name}="{_quote(value)}"' for name, value in pairs.items() if value is not None)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Queries:
    def __init__(self, labels: Labels, rate_window: str = "1m", namespace: str | None = None) -> None:
        self.labels = labels
        self.rate_window = rate_window
        self.namespace = namespace

    def by(self, level: Level) -> str:
        """The grouping labels of one answer series."""
        n = self.labels
        return f"{n.namespace}, {n.pod}, {n.service}" if level == "pod" else n.service

    def pod_rates(self, app: str, service: str | None) -> dict[str, str]:
        """PodRates field -> the PromQL answering it for every pod of `app`, for a snapshot.

        Latency comes as bucket rates, from which the snapshot computes p50 and p99
        of pods and services: one query instead of four histogram_quantile ones,
        which are a refresh's most expensive.
        """
        parts = self._parts(app, service, self.by("pod"))
        n = self.labels
        return {
            "requests_per_second": parts["requests"],
            "faults_per_second": parts["faults"],
            # The largest answer (a series per pod and bucket): no namespace label, to keep it small.
            "latency_buckets": f"sum by ({n.pod}, {n.service}, le) ({parts['buckets']})",
            "in_flight": parts["in_flight"],
            "cpu_cores": parts["cpu"],
            "cpu_limit_cores": parts["cpu_limit"],
            "memory_bytes": parts["memory"],
            "gpu_utilization": parts["gpu_busy"],
            "gpu_memory_bytes": parts["gpu_memory"],
            "restarts": parts["restarts"],
        }

    def figures(self, app: str, service: str | None, level: Level) -> dict[str, str]:
        """Figure name (as in types.Figures) -> the PromQL answering it for every pod or service of `app`,
        for series over a window."""
        by = self.by(level)
        parts = self._parts(app, service, by)

        def quantile(q: float) -> str:
            return f"histogram_quantile({q}, sum by ({by}, le) ({parts['buckets']}))"

        return {
            "requests_per_second": parts["requests"],
            # `or 0 * requests`: 0 rather than no answer where all calls succeeded; no traffic stays NaN (0/0).
            "error_ratio": f"({parts['faults']} or 0 * {parts['requests']}) / {parts['requests']}",
            "p50_seconds": quantile(0.5),
            "p99_seconds": quantile(0.99),
            "in_flight": parts["in_flight"],
            "cpu_cores": parts["cpu"],
            "cpu_limit_share": f"{parts['cpu']} / {parts['cpu_limit']}",
            "memory_bytes": parts["memory"],
            "gpu_utilization": parts["gpu_busy"],
            "gpu_memory_bytes": parts["gpu_memory"],
            "restarts": parts["restarts"],
        }

    def slow_call_ratio(self, app: str, service: str | None, le: str, level: Level = "service") -> str:
        """The share of calls slower than the latency histogram's bucket bound `le` (as the runtime writes it)."""
        by, runtime, w = self.by(level), self._runtime(app, service), self.rate_window
        within = self._runtime(app, service, f'le="{_quote(le)}"')
        return (f"1 - sum by ({by}) (rate(kanri_request_duration_seconds_bucket{within}[{w}]))"
                f" / sum by ({by}) (rate(kanri_request_duration_seconds_count{runtime}[{w}]))")

    def _parts(self, app: str, service: str | None, by: str) -> dict[str, str]:
        """The expressions figures are made of, aggregated `by` the given labels."""
        n, w = self.labels, self.rate_window
        runtime = self._runtime(app, service)
        faults = self._runtime(app, service, f'code=~"{"|".join(SERVER_FAULT_CODES)}"')
        containers = self._containers()
        per_pod = {
            "cpu": f"rate(container_cpu_usage_seconds_total{containers}[{w}])",
            "cpu_limit": f"(container_spec_cpu_quota{containers} > 0) / on ({n.namespace}, {n.pod}, {n.container})"
                         f" container_spec_cpu_period{containers}",
            "memory": f"container_memory_working_set_bytes{containers}",
            "gpu_busy": self._gpu("avg", "DCGM_FI_DEV_GPU_UTIL / 100", "kanri_gpu_utilization_ratio"),
            "gpu_memory": self._gpu("sum", "DCGM_FI_DEV_FB_USED * 1048576", "kanri_gpu_memory_used_bytes"),
            "restarts": "kube_pod_container_status_restarts_total",
        }
        return {
            "requests": f"sum by ({by}) (rate(kanri_requests_total{runtime}[{w}]))",
            "faults": f"sum by ({by}) (rate(kanri_requests_total{faults}[{w}]))",
            "buckets": f"rate(kanri_request_duration_seconds_bucket{runtime}[{w}])",
            "in_flight": f"sum by ({by}) (kanri_requests_in_flight{runtime})",
            **{name: f"{'avg' if name == 'gpu_busy' else 'sum'} by ({by}) ({self._per_pod(expr, app, service)})"
               for name, expr in per_pod.items()},
        }

    def _runtime(self, app: str, service: str | None, extra: str = "") -> str:
        """The selector of the runtime's own series of the application (or one service)."""
        n = self.labels
        matchers = _matchers(**{n.app: app, n.service: service, n.namespace: self.namespace})
        return "{" + ", ".join(m for m in (matchers, extra) if m) + "}"

    def _quantile(self, q: float, runtime: str, by: str) -> str:
        return (f"histogram_quantile({q}, sum by ({by}, le) "
                f"(rate(kanri_request_duration_seconds_bucket{runtime}[{self.rate_window}])))")

    def _containers(self) -> str:
        """Real containers only: cAdvisor also reports the pod cgroup (container="") and the pause container."""
        c = self.labels.container
        return "{" + f'{c}!="", {c}!="POD"' + (f', {self._namespace_matcher()}' if self.namespace else "") + "}"

    def _namespace_matcher(self) -> str:
        return _matchers(**{self.labels.namespace: self.namespace})

    def _members(self, app: str, service: str | None) -> str:
        """1 for each pod of the application, labelled with its service."""
        n = self.labels
        return f"group by ({n.namespace}, {n.pod}, {n.service}) (kanri_requests_in_flight{self._runtime(app, service)})"

    def _per_pod(self, expr: str, app: str, service: str | None) -> str:
        """`expr` summed per pod, kept for the application's pods and labelled with their service."""
        n = self.labels
        return (f"sum by ({n.namespace}, {n.pod}) ({expr})"
                f" * on ({n.namespace}, {n.pod}) group_left ({n.service}) {self._members(app, service)}")

    def _gpu(self, aggregate: str, dcgm: str, runtime: str) -> str:
        """DCGM's figure per pod where the exporter publishes one, else the runtime's NVML gauge."""
        n = self.labels
        return (f"{aggregate} by ({n.namespace}, {n.pod}) ({dcgm})"
                f" or {aggregate} by ({n.namespace}, {n.pod}) ({runtime})")
