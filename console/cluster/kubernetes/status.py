"""Rollout status from a Deployment, with `kubectl rollout status` semantics.

Until the controller has observed the latest generation nothing else in the
status means anything; a Progressing condition with reason
ProgressDeadlineExceeded means stuck; otherwise the rollout waits for every
replica to be updated, old ones to go, and the updated ones to be available.
"""

from __future__ import annotations

from ..base import RolloutStatus
from . import labels


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
    else:
        message, converged = f"deployment {meta['name']} successfully rolled out", True
    identity = meta.get("labels", {})
    return RolloutStatus(app=identity.get(labels.APP, ""), service=identity.get(labels.SERVICE, ""), desired=desired,
                         updated=updated, ready=ready, available=available, converged=converged, stuck=stuck,
                         message=message, cluster=cluster)


def unready_detail(pods: list[dict]) -> str:
    """What keeps pods from being ready, as an operator would read it off `kubectl get pods`."""
    unready = [p for p in pods if not is_ready(p)]
    if not unready:
        return ""
    containers = [c for p in unready for c in p.get("status", {}).get("containerStatuses", [])]
    reasons = sorted({c["state"]["waiting"]["reason"] for c in containers
                      if "reason" in c.get("state", {}).get("waiting", {})})
    return f"{len(unready)} of {len(pods)} pods not ready" + (f" ({', '.join(reasons)})" if reasons else "")


def is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
