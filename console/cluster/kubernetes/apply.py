"""Declarative writes: create an object, or replace it whole, as `kubectl apply` would leave it.

Replace (not patch) so that what kanri stops rendering also disappears, and
with the resourceVersion just read, so that a concurrent change is noticed (409)
and the write retried on the new version instead of overwriting it blindly.
"""

from __future__ import annotations

import copy

from ..base import ClusterError
from . import labels
from .connection import Cluster
from .kinds import Kind

ATTEMPTS = 3


def _carry_over(desired: dict, live: dict) -> dict:
    """The desired object, with what it leaves to the cluster taken from the live one."""
    body = copy.deepcopy(desired)
    body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    if desired["kind"] == "Deployment" and "replicas" not in desired["spec"]:  # the HPA's to set
        body["spec"]["replicas"] = live["spec"].get("replicas", 1)
    return body


def apply_object(cluster: Cluster, kind: Kind, desired: dict) -> None:
    meta = desired["metadata"]
    for _ in range(ATTEMPTS):
        live = kind.read(cluster, meta["namespace"], meta["name"])
        if live is None:
            if kind.create(cluster, desired):
                return
            continue
        if live["metadata"].get("labels", {}).get(labels.MANAGED_BY) != "kanri":
            raise ClusterError(f"cluster {cluster.name}: {kind.kind} {meta['namespace']}/{meta['name']} exists and "
                               "is not managed by kanri; delete or rename it, or choose another service name")
        if kind.replace(cluster, _carry_over(desired, live)):
            return
    raise ClusterError(f"cluster {cluster.name}: {kind.kind} {meta['namespace']}/{meta['name']} kept changing while "
                       f"kanri wrote it ({ATTEMPTS} attempts); try again")
