"""What runs, read back from the API server's objects into the contract's terms (pods, services, routes, and
whether each level's mesh security is as configured)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..base import CALL_METRICS, AccessDrift, ActualService, Pod, RouteSpec
from . import labels, mesh_security, scaling
from .objects import ObjectOptions
from .pod_status import pod_status
from .status import is_ready

KEDA_DEFAULTS = {"minReplicaCount": 0, "maxReplicaCount": 100, "cooldownPeriod": 300}
"""What KEDA does with a ScaledObject field left out (kanri writes them all)."""


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _age(pod: dict, now: datetime) -> float:
    started = pod.get("status", {}).get("startTime") or pod["metadata"].get("creationTimestamp")
    if not started:
        return 0.0
    return max((now - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds(), 0.0)


def pod(obj: dict, cluster: str, now: datetime | None = None) -> Pod:
    meta, identity, shown = obj["metadata"], obj["metadata"].get("labels", {}), pod_status(obj)
    return Pod(name=meta["name"], app=identity.get(labels.APP, ""), service=identity.get(labels.SERVICE, ""),
               level=identity.get(labels.LEVEL, ""),
               phase="Terminating" if meta.get("deletionTimestamp") else obj.get("status", {}).get("phase", "Unknown"),
               ready=is_ready(obj), restarts=shown.restarts, age_seconds=_age(obj, now or datetime.now(UTC)),
               model_version=_int(meta.get("annotations", {}).get(labels.MODEL_VERSION)),
               host=obj.get("spec", {}).get("nodeName", ""), cluster=cluster, status=shown.status, reason=shown.reason)


def actual_service(deployment: dict, autoscalers: Mapping[str, dict], scaled_objects: Mapping[str, dict],
                   cluster: str) -> ActualService:
    """Autoscaling as the service's autoscaler says, its ScaledObject (calls) or its HPA (CPU), when it has one;
    else the bounds kanri recorded on the Deployment. `autoscalers` and `scaled_objects`: the cluster's, by name."""
    meta, spec = deployment["metadata"], deployment["spec"]
    identity, notes = meta.get("labels", {}), meta.get("annotations", {})
    model = spec["template"]["metadata"].get("annotations", {})
    replicas = spec.get("replicas", 1)
    found = ActualService(
        app=identity.get(labels.APP, ""), name=identity.get(labels.SERVICE, ""), level=identity.get(labels.LEVEL, ""),
        model_version=_int(model.get(labels.MODEL_VERSION)), model_sha256=model.get(labels.MODEL_SHA256, ""),
        replicas=replicas, min_replicas=_int(notes.get(labels.MIN_REPLICAS)) or replicas,
        max_replicas=_int(notes.get(labels.MAX_REPLICAS)) or replicas,
        cpu_threshold=_int(notes.get(labels.CPU_THRESHOLD)) or 0, autoscale=False, cluster=cluster)
    name = meta["name"]
    if (scaled := scaled_objects.get(name)) is not None:
        settings = _call_scaling(scaled)
    elif (autoscaler := autoscalers.get(name)) is not None:
        settings = _cpu_scaling(autoscaler, found.cpu_threshold)
    else:
        return found
    return dataclasses.replace(found, autoscale=True, **settings)


def _cpu_scaling(autoscaler: dict, recorded_threshold: int) -> dict[str, Any]:
    bounds = autoscaler["spec"]
    threshold = next((m["resource"]["target"].get("averageUtilization") for m in bounds.get("metrics", [])
                      if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"), None)
    return {"min_replicas": bounds.get("minReplicas", 1), "max_replicas": bounds["maxReplicas"],
            "cpu_threshold": threshold or recorded_threshold}


def _call_scaling(scaled_object: dict) -> dict[str, Any]:
    """As KEDA reads the spec, with its defaults. The metric is the one whose query kanri writes for this service
    (in its first Prometheus trigger), else the query itself, so that an edited query shows as drift; it wakes
    from zero while a later trigger is the waking one kanri writes (scaling.py)."""
    meta, spec = scaled_object["metadata"], scaled_object["spec"]
    identity = meta.get("labels", {})
    app, level, namespace = identity.get(labels.APP, ""), identity.get(labels.LEVEL, ""), meta.get("namespace", "")
    prometheus = [t.get("metadata", {}) for t in spec.get("triggers", []) if t.get("type") == "prometheus"]
    calls = prometheus[0] if prometheus else {}
    query = calls.get("query", "")
    metric = next((m for m in CALL_METRICS if query == scaling.calls_query(
        m, app, identity.get(labels.SERVICE, ""), level, namespace)), f"query {query!r}")
    wake = {"query": scaling.wake_query(app, level, namespace), "threshold": scaling.WAKE_ONLY}
    try:
        target = float(calls.get("threshold", ""))
    except ValueError:
        target = 0.0
    return {"scale_metric": metric, "scale_target": target,
            "min_replicas": spec.get("minReplicaCount", KEDA_DEFAULTS["minReplicaCount"]),
            "max_replicas": spec.get("maxReplicaCount", KEDA_DEFAULTS["maxReplicaCount"]),
            "scale_to_zero_after": float(spec.get("cooldownPeriod", KEDA_DEFAULTS["cooldownPeriod"])),
            "wakes_from_zero": any(wake.items() <= trigger.items() for trigger in prometheus[1:])}


def scaling_reason(name: str, autoscalers: Mapping[str, dict], scaled_objects: Mapping[str, dict]) -> str:
    """Why the autoscaler of the service whose objects are named `name` sets its replicas, in its own words
    ("" without one, or before it has said). KEDA's: its ScaledObject's conditions (not ready, or idle with a
    minimum of zero), else the HPA it made; kanri's own HPA's otherwise."""
    scaled = scaled_objects.get(name)
    if scaled is None:
        return _hpa_reason(autoscalers.get(name))
    conditions = _conditions(scaled)
    ready, active = conditions.get("Ready", {}), conditions.get("Active", {})
    if ready.get("status") == "False":
        return ready.get("message", "")
    if active.get("status") == "False" and scaled["spec"].get("minReplicaCount",
                                                               KEDA_DEFAULTS["minReplicaCount"]) == 0:
        return active.get("message", "")
    return _hpa_reason(autoscalers.get(scaling.keda_autoscaler_name(name)))


def _hpa_reason(autoscaler: dict | None) -> str:
    """Its ScalingActive condition: whether it can compute replicas from its metrics, and if not why."""
    return "" if autoscaler is None else _conditions(autoscaler).get("ScalingActive", {}).get("message", "")


def _conditions(obj: dict) -> dict[str, dict]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def route(virtual_service: dict) -> RouteSpec:
    identity = virtual_service["metadata"].get("labels", {})
    http = (virtual_service["spec"].get("http") or [{}])[0]
    weights = {d["destination"].get("subset", ""): d.get("weight", 100) for d in http.get("route", [])}
    mirror = http.get("mirror", {}).get("subset", "")
    share = http.get("mirrorPercentage", {}).get("value", 100 if mirror else 0)  # Istio mirrors all when unset
    return RouteSpec(app=identity.get(labels.APP, ""), level=identity.get(labels.LEVEL, ""), weights=weights,
                     mirror=mirror, mirror_percent=round(share))


def is_mesh_route(virtual_service: dict) -> bool:
    """The VirtualService that routes inside the mesh holds a route's truth; one for the ingress gateway copies it."""
    return "mesh" in virtual_service["spec"].get("gateways", ["mesh"])


def access_drift(routes: list[RouteSpec], live: list[dict], namespace: str, options: ObjectOptions,
                 cluster: str) -> list[AccessDrift]:
    """Each level whose mesh security objects (`live`, of every kind) differ from what kanri renders for it: a
    routed level's when configured, none otherwise; a kind that is there but changed reads "KIND (edited)".
    Without the settings nothing is drift: kanri neither writes nor removes them then (set_route)."""
    if not mesh_security.configured(options):
        return []
    found: dict[tuple[str, str], dict[str, dict]] = {}
    for obj in live:
        identity = obj["metadata"].get("labels", {})
        found.setdefault((identity.get(labels.APP, ""), identity.get(labels.LEVEL, "")), {})[obj["kind"]] = obj["spec"]
    routed = {(r.app, r.level) for r in routes}
    drift = []
    for app, level in sorted(routed | set(found)):
        rendered = mesh_security.level_objects(app, level, namespace, options) if (app, level) in routed else []
        wanted = {o["kind"]: o["spec"] for o in rendered}
        have = found.get((app, level), {})
        if have != wanted:
            actual = [kind + (" (edited)" if kind in wanted and have[kind] != wanted[kind] else "") for kind in have]
            drift.append(AccessDrift(app, level, tuple(sorted(wanted)), tuple(sorted(actual)), cluster))
    return drift
