"""The defaulting and allocation the real server does on every write, for the fields clients meet on read-back."""

from __future__ import annotations

import itertools

from .resources import DEPLOYMENTS, HPAS, PDBS, PODS, SERVICES, Kind, Obj
from .schema import PROBES

# A Service PUT that leaves out spec.clusterIP keeps the allocated one only from here on: kubernetes#103532 is in
# 1.22.0, and reached 1.21 and 1.20 in later patch releases (#104673, #104674); before those (v1.20.2 among them)
# the update is refused. The fake takes each minor as its early patch releases, the strict side.
CARRIES_CLUSTER_IP = 22
_DUAL_STACK_FIELDS = 21  # ipFamilies and ipFamilyPolicy are filled in from 1.21 (IPv6DualStack on by default)
_INTERNAL_TRAFFIC_POLICY = 22

_allocated = itertools.count(1)


def _next_cluster_ip() -> str:
    n = next(_allocated)
    return f"10.96.{n // 250 % 250}.{n % 250 + 1}"


def _pull_policy(image: str) -> str:
    tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
    return "IfNotPresent" if tagged or "@" in image else "Always"


def _container(container: Obj) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", _pull_policy(container.get("image", "")))
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in (container.get(p) for p in PROBES):
        if isinstance(probe, dict):
            for field, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                                 ("failureThreshold", 3)):
                probe.setdefault(field, value)


def pod_spec(spec: Obj) -> None:
    for field, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                         ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler"),
                         ("securityContext", {})):
        spec.setdefault(field, value)
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        _container(container)


def _deployment(spec: Obj) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("maxSurge", "25%")
        strategy["rollingUpdate"].setdefault("maxUnavailable", "25%")
    pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))


def _service(spec: Obj, old: Obj | None, minor: int) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    old_spec = (old or {}).get("spec", {})
    if old and minor >= CARRIES_CLUSTER_IP and not spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIP"], spec["clusterIPs"] = old_spec.get("clusterIP"), old_spec.get("clusterIPs")
    if not old and not spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIP"] = _next_cluster_ip()
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    if minor >= _DUAL_STACK_FIELDS and spec.get("clusterIP"):
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if minor >= _INTERNAL_TRAFFIC_POLICY:
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def _qos_class(spec: Obj) -> str:
    """The QoS class the server gives a new pod: Guaranteed when limits equal requests, BestEffort without either."""
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(set(r.get("limits") or {}) >= {"cpu", "memory"}
                     and all(r["limits"][k] == v for k, v in (r.get("requests") or {}).items()) for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


def initial_status(kind: Kind, obj: Obj) -> Obj | None:
    """The status a new object starts with: its type's zero value as Go encodes it (None: none, as for CRs)."""
    if kind.custom:
        return None
    if kind is PODS:
        return {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}
    return {HPAS: {"desiredReplicas": 0}, SERVICES: {"loadBalancer": {}},
            PDBS: dict.fromkeys(("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"), 0),
            }.get(kind, {})


def default(kind: Kind, obj: Obj, old: Obj | None, minor: int) -> None:
    """Fill in what the server fills in; a Service's clusterIP is allocated on create."""
    if kind.custom:
        return
    spec = obj.setdefault("spec", {})
    if kind is DEPLOYMENTS:
        _deployment(spec)
    elif kind is PODS:
        pod_spec(spec)
    elif kind is SERVICES:
        _service(spec, old, minor)
    elif kind is HPAS:
        spec.setdefault("minReplicas", 1)
