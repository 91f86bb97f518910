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

Latency quantiles need every bucket series rated; `latency_rules` has
Prometheus keep them per pod and service ahead of time (`kanri render
latency-rules`), and the queries read those series when told to.

The queries kanri hands others select the same series the same way: the SLO
rules (slo/rules.py), and KEDA's, which scale a service on its calls
(`calls`, `calls_to`; cluster/kubernetes/scaling.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# gRPC codes that are the server's fault; the error ratio counts these and not the
# caller's mistakes (INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED, ...), which a healthy service answers.
SERVER_FAULT_CODES = ("INTERNAL", "UNAVAILABLE", "UNKNOWN", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED",
                      "DATA_LOSS", "UNIMPLEMENTED")

Level = Literal["pod", "service"]

# The latency quantiles a refresh shows, as the `quantile` label of the recorded series -> the figure.
QUANTILES = {"0.5": "p50_seconds", "0.99": "p99_seconds"}

# The runtime's prediction calls (those serving.auth guards) by their `method` label, over gRPC and HTTP.
PREDICTIONS = "(HTTP )?(Predict|PredictStream|ModelInfer)"


@dataclass(frozen=True)
class Labels:
    """Label names as this cluster's Prometheus spells them."""

    pod: str = "pod"
    namespace: str = "namespace"
    container: str = "container"
    app: str = "app"
    service: str = "service"
    level: str = "service_level"


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

    def pod_rates(self, app: str, service: str | None, recorded: bool = False) -> dict[str, str]:
        """PodRates field (or pod_quantiles/service_quantiles) -> the PromQL answering it for every pod of `app`,
        for a snapshot.

        Latency: with the recording rules, the quantiles they keep for each pod and
        service. Without, bucket rates, from which the snapshot computes p50 and p99
        of pods and services: one query instead of four histogram_quantile ones,
        yet still a refresh's most expensive (it rates every bucket series).
        """
        n = self.labels
        # Answers carry only the labels the snapshot keys on: a refresh's cost is mostly answers to encode and read.
        pod = f"{n.pod}, {n.service}"
        parts = self._parts(app, service, pod)
        runtime = self._runtime(app, service)
        latency = ({"pod_quantiles": f"max by ({pod}, quantile) ({self.recorded('pod')}{runtime})",
                    "service_quantiles": f"max by ({n.service}, quantile) ({self.recorded('service')}{runtime})"}
                   if recorded else {"latency_buckets": f"sum by ({pod}, le) ({parts['buckets']})"})
        return {
            "requests_per_second": parts["requests"],
            "faults_per_second": parts["faults"],
            **latency,
            "in_flight": parts["in_flight"],
            "cpu_cores": parts["cpu"],
            "cpu_limit_cores": parts["cpu_limit"],
            "memory_bytes": parts["memory"],
            "gpu_utilization": parts["gpu_busy"],
            "gpu_memory_bytes": parts["gpu_memory"],
            "restarts": parts["restarts"],
        }

    def figures(self, app: str, service: str | None, level: Level, recorded: bool = False) -> dict[str, str]:
        """Figure name (as in types.Figures) -> the PromQL answering it for every pod or service of `app`,
        for series over a window; latency from the recording rules' series when `recorded`."""
        by = self.by(level)
        parts = self._parts(app, service, by)

        def quantile(q: str) -> str:
            if recorded:  # one series per pod or service already; max: a service name in two namespaces
                return f"max by ({by}) ({self.recorded(level)}{self._runtime(app, service, _matchers(quantile=q))})"
            return f"histogram_quantile({q}, sum by ({by}, le) ({parts['buckets']}))"

        return {
            "requests_per_second": parts["requests"],
            # `or 0 * requests`: 0 rather than no answer where all calls succeeded; no traffic stays NaN (0/0).
            "error_ratio": f"({parts['faults']} or 0 * {parts['requests']}) / {parts['requests']}",
            **{figure: quantile(q) for q, figure in QUANTILES.items()},
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

    def calls(self, metric: str, app: str, service: str, level: str) -> str:
        """One service's calls at its level, over all its pods, as KEDA scales it on them (cluster/kubernetes/
        scaling.py): in flight (concurrency), or predictions per second (rps). Predictions only: before
        Kubernetes 1.24 the kubelet's probes are HTTP calls to the runtime, and would keep it from ever idling."""
        at_level = _matchers(**{self.labels.level: level})
        if metric == "concurrency":
            return f"sum(kanri_requests_in_flight{self._runtime(app, service, at_level)})"
        predictions = self._runtime(app, service, f'{at_level}, method=~"{PREDICTIONS}"')
        return f"sum(rate(kanri_requests_total{predictions}[{self.rate_window}]))"

    def calls_to(self, kubernetes_service: str) -> str:
        """Calls per second to a Kubernetes Service of the namespace, as the Istio proxies on the callers' side
        count them: those no pod answered too, whose destination workload is then "unknown"
        (istio/istio#22154) while the destination Service is known."""
        destination = _matchers(reporter="source", destination_service_name=kubernetes_service,
                                destination_service_namespace=self.namespace)
        return f"sum(rate(istio_requests_total{{{destination}}}[{self.rate_window}]))"

    def recorded(self, level: Level) -> str:
        """The series where `latency_rules` keep each pod's or service's latency quantiles (label `quantile`)."""
        return f"{level}:kanri_request_duration_seconds:quantile_rate{self.rate_window}"

    def recorded_present(self) -> str:
        """Answers one sample when the recording rules run (for any application), none when they do not."""
        return f"count({self.recorded('pod')}) and count({self.recorded('service')})"

    def latency_rules(self, interval: str = "15s") -> dict[str, Any]:
        """A Prometheus rule group keeping the latency quantiles of every pod and service, computed ahead.

        Without it, each refresh rates every bucket series of the application
        (15 a pod and method), its most expensive query; with it, a refresh reads
        two quantiles a pod and a service. Prometheus runs the group every
        `interval`, once for all the consoles watching.
        """
        n, w = self.labels, self.rate_window
        pod = f"{n.namespace}, {n.pod}, {n.app}, {n.service}"
        buckets = f"pod:kanri_request_duration_seconds_bucket:rate{w}"
        scope = "{" + self._namespace_matcher() + "}" if self.namespace else ""
        rate = f"rate(kanri_request_duration_seconds_bucket{scope}[{w}])"
        rules: list[dict[str, Any]] = [{"record": buckets, "expr": f"sum by ({pod}, le) ({rate})"}]
        service = f"sum by ({n.namespace}, {n.app}, {n.service}, le) ({buckets})"
        for level, source in (("pod", buckets), ("service", service)):
            rules += [{"record": self.recorded(level), "expr": f"histogram_quantile({q}, {source})",
                       "labels": {"quantile": q}} for q in QUANTILES]
        return {"name": f"kanri-latency-{w}", "interval": interval, "rules": rules}

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
