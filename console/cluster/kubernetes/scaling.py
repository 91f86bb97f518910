"""A service that scales on its calls, as a KEDA ScaledObject: KEDA makes the HPA and feeds it from Prometheus.

KEDA rather than Knative (docs/design.md): kanri keeps its Deployments,
Services, PDBs and Istio routes, and KEDA only takes the HPA's place, creating
and owning one (keda-hpa-NAME) from this object; Knative Serving would replace
the Deployment and the routing with its own.

The first trigger scales: the runtime's own figures (serving/metrics.py) of
this service at this level, in this namespace (the label the scrape adds:
manifests/observability/prometheus, the ServiceMonitor), selected as the
console selects them (telemetry/promql.py), which KEDA divides by the
replicas (AverageValue), so its threshold is the target per replica. At
zero replicas no pod reports anything, so a service that may go to zero gets a
second trigger that wakes it: the calls to its level that Istio's proxies on
the callers' side (the ingress gateway, sidecars) count, which they do even
when a call fails for want of a pod. Those first calls are answered
UNAVAILABLE/503 until a pod is ready; holding them needs KEDA's HTTP add-on.
"""

from __future__ import annotations

from kanri.console.telemetry.promql import Labels, Queries

from ..base import ClusterError, ServiceSpec
from . import labels
from .versions import SCALED_OBJECT

MAX_NAME = 63  # a label value's length, which KEDA's HPA name must keep to
KEDA_HPA_PREFIX = "keda-hpa-"
RATE_WINDOW = "1m"
"""Four scrapes at the ServiceMonitor's 15 s: a rate Prometheus can compute even when one scrape is missed."""
WAKE_ONLY = "1000000000"
"""The waking trigger's target per replica: calls per second no level reaches, so that it asks for one replica
when its level has calls and never for more; how many more is the first trigger's to say."""
UNCHECKED_BY_KEDA = {"validations.keda.sh/hpa-ownership": "false"}
"""On kanri's own HPA. KEDA's admission webhook refuses a ScaledObject for a Deployment that another HPA scales,
dry runs too; a change from CPU to calls deletes kanri's HPA before it writes the ScaledObject, but checks every
object first, while the HPA is still there."""
SCALE_DOWN_WINDOW_SECONDS = 60
"""How long the calls must want fewer replicas before one goes: Knative's stable window. The HPA's default,
300 s, suits CPU, which lags and is noisy; calls in flight and per second are neither."""


def calls_query(metric: str, app: str, service: str, level: str, namespace: str) -> str:
    """The service's calls now, over all its pods: in flight (concurrency) or per second (rps)."""
    return _queries(namespace).calls(metric, app, service, level)


def wake_query(app: str, level: str, namespace: str) -> str:
    """The calls sent to the service's level (its Service APP-LEVEL), counted even when no pod answers them."""
    return _queries(namespace).calls_to(labels.level_name(app, level))


def _queries(namespace: str) -> Queries:
    """Over the series as kanri's scrape jobs label them (promql.Labels' defaults)."""
    return Queries(Labels(), RATE_WINDOW, namespace)


def keda_autoscaler_name(name: str) -> str:
    """The HPA KEDA makes for the ScaledObject `name` (KEDA's getHPAName)."""
    return KEDA_HPA_PREFIX + name


def scaled_object(spec: ServiceSpec, namespace: str, prometheus_url: str) -> dict:
    """The ScaledObject of a service scaled on concurrency or rps, reading Prometheus at `prometheus_url`."""
    what = f"service {spec.app}/{spec.name} scales on {spec.scale_metric}"
    if not prometheus_url:
        raise ClusterError(f"{what}, which KEDA reads from Prometheus: set prometheus_url (KANRI_PROMETHEUS_URL) to "
                           "a Prometheus the KEDA operator reaches in the cluster, or scale it on --cpu-threshold")
    if not float(spec.scale_to_zero_after).is_integer():
        raise ClusterError(f"{what} and goes to zero after {spec.scale_to_zero_after:g} s: KEDA counts whole "
                           "seconds, so give --scale-to-zero-after in whole seconds")
    meta = labels.workload_metadata(spec.app, spec.name, spec.level, namespace)
    if len(meta["name"]) > MAX_NAME - len(KEDA_HPA_PREFIX):
        raise ClusterError(f"{what}, and KEDA would name its HPA {keda_autoscaler_name(meta['name'])}, longer than "
                           f"the {MAX_NAME} characters its admission webhook allows: name the application and "
                           f"service in at most {MAX_NAME - len(KEDA_HPA_PREFIX)} characters together")
    calls = calls_query(spec.scale_metric, spec.app, spec.name, spec.level, namespace)
    triggers = [_prometheus(prometheus_url, calls, _number(spec.scale_target))]
    if spec.min_replicas == 0:
        triggers.append(_prometheus(prometheus_url, wake_query(spec.app, spec.level, namespace), WAKE_ONLY))
    scale_down = {"stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS}
    return {
        "apiVersion": SCALED_OBJECT.versions[0][0],
        "kind": "ScaledObject",
        "metadata": meta,
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"]},
                 "minReplicaCount": spec.min_replicas, "maxReplicaCount": spec.max_replicas,
                 "cooldownPeriod": int(spec.scale_to_zero_after),
                 "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": scale_down}}},
                 "triggers": triggers},
    }


def _prometheus(server: str, query: str, threshold: str) -> dict:
    return {"type": "prometheus", "metricType": "AverageValue",
            "metadata": {"serverAddress": server, "query": query, "threshold": threshold}}


def _number(value: float) -> str:
    """As KEDA reads a threshold (a string), and back to the same float: 4 as "4", 2.5 as "2.5"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
