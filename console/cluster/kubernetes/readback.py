"""What runs, read back from the API server's objects into the contract's terms (pods, services, routes)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..base import ActualService, Pod, RouteSpec
from . import labels
from .pod_status import pod_status
from .status import is_ready


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


def actual_service(deployment: dict, autoscaler: dict | None, cluster: str) -> ActualService:
    """Autoscaling as the HPA says when there is one, else the bounds kanri recorded on the Deployment."""
    meta, spec = deployment["metadata"], deployment["spec"]
    identity, notes = meta.get("labels", {}), meta.get("annotations", {})
    model = spec["template"]["metadata"].get("annotations", {})
    bounds = autoscaler["spec"] if autoscaler else {}
    threshold = next((m["resource"]["target"].get("averageUtilization") for m in bounds.get("metrics", [])
                      if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"), None)
    replicas = spec.get("replicas", 1)
    return ActualService(
        app=identity.get(labels.APP, ""), name=identity.get(labels.SERVICE, ""), level=identity.get(labels.LEVEL, ""),
        model_version=_int(model.get(labels.MODEL_VERSION)), model_sha256=model.get(labels.MODEL_SHA256, ""),
        replicas=replicas,
        min_replicas=bounds.get("minReplicas") or _int(notes.get(labels.MIN_REPLICAS)) or replicas,
        max_replicas=bounds.get("maxReplicas") or _int(notes.get(labels.MAX_REPLICAS)) or replicas,
        cpu_threshold=threshold or _int(notes.get(labels.CPU_THRESHOLD)) or 0,
        autoscale=autoscaler is not None, cluster=cluster)


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
