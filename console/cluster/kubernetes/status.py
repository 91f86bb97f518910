"""Rollout status from a Deployment, with `kubectl rollout status` semantics.

Until the controller has observed the latest generation nothing else in the
status means anything; a Progressing condition with reason
ProgressDeadlineExceeded means stuck; otherwise the rollout waits for every
replica to be updated, old ones to go, the updated ones to be available, and,
unlike kubectl, a scale-down's extra replicas to go.
"""

from __future__ import annotations

from ..base import RolloutStatus
from . import labels
from .pod_status import PodStatus, pod_status


def rollout_status(deployment: dict, cluster: str) -> RolloutStatus:
    meta, spec, status = deployment["metadata"], deployment["spec"], deployment.get("status", {})
    desired = spec.get("replicas", 1)
    total, updated = status.get("replicas", 0), status.get("updatedReplicas", 0)
    ready, available = status.get("readyReplicas", 0), status.get("availableReplicas", 0)
    progressing = next((c for c in status.get("conditions", []) if c["type"] == "Progressing"), {})
    stuck, converged = "", False
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        message = "waiting for the deployment spec update to be observed"
    elif progressing.get("reason") == "ProgressDeadlineExceeded":
        stuck = f"progress deadline ({spec.get('progressDeadlineSeconds', 600)} s) exceeded"
        message = f"deployment {meta['name']} exceeded its progress deadline: {progressing.get('message', '')}"
    elif updated < desired:
        message = f"waiting for rollout to finish: {updated} out of {desired} new replicas have been updated"
    elif total > updated:
        message = f"waiting for rollout to finish: {total - updated} old replicas are pending termination"
    elif available < updated:
        message = f"waiting for rollout to finish: {available} of {updated} updated replicas are available"
    elif total > desired:  # a scale-down: kubectl would call it done while the extra replicas still serve
        message = f"waiting for scale-down to finish: {total - desired} extra replicas are pending termination"
    else:
        message, converged = f"deployment {meta['name']} successfully rolled out", True
    identity = meta.get("labels", {})
    return RolloutStatus(app=identity.get(labels.APP, ""), service=identity.get(labels.SERVICE, ""), desired=desired,
                         updated=updated, ready=ready, available=available, converged=converged, stuck=stuck,
                         message=message, cluster=cluster)


def unready_detail(pods: list[dict]) -> str:
    """What keeps pods from being ready, as an operator reads it off `kubectl get pods` and `describe`:
    each status once, with how many pods show it and, for one of them, why."""
    unready = sorted((p for p in pods if not is_ready(p)), key=lambda p: p["metadata"]["name"])
    if not unready:
        return ""
    shown: dict[str, list[tuple[str, PodStatus]]] = {}
    for pod in unready:
        found = pod_status(pod)
        shown.setdefault(found.status, []).append((pod["metadata"]["name"], found))
    return f"{len(unready)} of {len(pods)} pods not ready: " + "; ".join(
        _group(status, found) for status, found in sorted(shown.items()))


def _group(status: str, pods: list[tuple[str, PodStatus]]) -> str:
    head = status if len(pods) == 1 else f"{status} ×{len(pods)}"
    name, example = next(((name, found) for name, found in pods if found.reason), pods[0])
    return f"{head} ({name}: {example.reason})" if example.reason else head


def is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
