"""A simulated deployment controller and garbage collector: rolls Deployments out pod by pod, as the real
controllers do, simplified, and removes what a deletion leaves behind."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field

from .kubelet import Kubelet
from .resources import DEPLOYMENTS, PODS, ApiError, Obj, now_rfc3339
from .store import Store, Write

CONTROLLER = Write("v1", "kube-controller-manager")  # how the controller's pod creations are recorded


def _scaled(value: int | str, desired: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * desired / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def _rolling_bounds(spec: Obj) -> tuple[int, int]:
    """(max surge, max unavailable) in pods: percentages of replicas, surge rounded up, never both zero."""
    rolling, desired = spec["strategy"].get("rollingUpdate", {}), spec["replicas"]
    surge = _scaled(rolling.get("maxSurge", 0), desired, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", 0), desired, round_up=False)
    return surge, 1 if surge == unavailable == 0 else unavailable


def template_hash(template: Obj) -> str:
    """The pod-template-hash label: equal templates, equal hash (the real one is an FNV hash)."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class _Rollout:
    """What the controller remembers about one Deployment between passes."""

    progress: tuple = ()
    progressed_at: float = field(default_factory=time.monotonic)


class DeploymentController:
    """Advances Deployments the way the real deployment controller does, in simplified form.

    Pods of a new template are created up to maxSurge, become ready when the
    kubelet says so, count as available after minReadySeconds; old pods go as
    far as maxUnavailable allows. Progress stalls past progressDeadlineSeconds
    set Progressing=False with reason ProgressDeadlineExceeded. Only the
    RollingUpdate strategy is simulated. It is the garbage collector too: a
    deleted Deployment's pods go (unless orphaned), and a foreground deletion
    ends once its dependents are gone.
    """

    def __init__(self, store: Store, kubelet: Kubelet, nodes: tuple[str, ...]) -> None:
        self.store = store
        self.kubelet = kubelet
        self.nodes = itertools.cycle(nodes)
        self._owner: dict[str, str] = {}  # pod key "namespace/name" -> deployment uid
        self._born: dict[str, float] = {}  # pod key -> when it was created (monotonic)
        self._rollouts: dict[str, _Rollout] = {}
        self._thread = threading.Thread(target=self._run, name="fake-deployment-controller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self.store.closed:
            with self.store.lock:
                self._pass()
                self.store.changed.wait(0.05)

    def _pass(self) -> None:
        deployments = [obj for (kind, _, _), obj in list(self.store.objects.items()) if kind is DEPLOYMENTS]
        uids = {d["metadata"]["uid"] for d in deployments}
        pods = {f"{ns}/{name}" for kind, ns, name in self.store.objects if kind is PODS}
        for key, owner in list(self._owner.items()):
            if key not in pods:  # deleted through the API
                self._forget(key)
            elif owner in self.store.orphaned:  # its Deployment was deleted with propagationPolicy=Orphan
                del self._owner[key]
            elif owner not in uids:  # garbage collection of a deleted Deployment's pods
                self._delete_pod(key)
        for uid in set(self._rollouts) - uids:
            del self._rollouts[uid]
        for key in set(self._born) - set(self._owner):  # orphans keep running, until deleted
            if key in pods:
                self.kubelet.sync(self.store.objects[PODS, *key.split("/", 1)])
            else:
                self._forget(key)
        for deployment in deployments:
            if deployment["metadata"].get("deletionTimestamp"):
                self._delete_dependents(copy.deepcopy(deployment))
            else:
                self._reconcile(copy.deepcopy(deployment))
        for (kind, namespace, name), obj in list(self.store.objects.items()):
            if kind is not DEPLOYMENTS and "foregroundDeletion" in obj["metadata"].get("finalizers", []):
                self.store.finish_deletion(kind, namespace, name)  # no dependents to wait for

    def _delete_dependents(self, deployment: Obj) -> None:
        """Foreground deletion: the pods first, then the Deployment."""
        pods = self._pods_of(deployment)
        for pod in pods:
            self._delete_pod(_key(pod))
        if not pods:
            self.store.finish_deletion(DEPLOYMENTS, deployment["metadata"]["namespace"],
                                       deployment["metadata"]["name"])

    def _pods_of(self, deployment: Obj) -> list[Obj]:
        uid, namespace = deployment["metadata"]["uid"], deployment["metadata"]["namespace"]
        return [obj for (kind, ns, name), obj in self.store.objects.items()
                if kind is PODS and ns == namespace and self._owner.get(f"{ns}/{name}") == uid]

    def _reconcile(self, deployment: Obj) -> None:
        spec = deployment["spec"]
        desired, current_hash = spec["replicas"], template_hash(spec["template"])
        for pod in self._pods_of(deployment):
            self.kubelet.sync(pod)
        pods = self._pods_of(deployment)
        new = [p for p in pods if p["metadata"]["labels"]["pod-template-hash"] == current_hash]
        old = [p for p in pods if p not in new]
        surge, unavailable = _rolling_bounds(spec)
        min_available = desired - unavailable
        available = {p["metadata"]["name"]: self._available(p, spec.get("minReadySeconds", 0)) for p in pods}
        if len(new) > desired:
            self._scale_down(new, len(new) - desired, available)
        elif len(new) < desired:
            room = min(desired - len(new), desired + surge - len(pods)) if old else desired - len(new)
            for _ in range(room):
                self._create_pod(deployment, current_hash)
        if old:  # old pods go as far as the pods still unavailable allow: unhealthy ones first
            budget = len(pods) - min_available - sum(not available[p["metadata"]["name"]] for p in new)
            removed = self._scale_down([p for p in old if not available[p["metadata"]["name"]]], budget, available)
            self._scale_down([p for p in old if available[p["metadata"]["name"]]],
                             min(budget - removed, sum(available.values()) - min_available), available)
        self._write_status(deployment, current_hash, min_available)

    def _available(self, pod: Obj, min_ready_seconds: int) -> bool:
        since = self.kubelet.ready_since(_key(pod))
        return since is not None and time.monotonic() - since >= min_ready_seconds

    def _scale_down(self, pods: list[Obj], count: int, is_available: dict[str, bool]) -> int:
        """Remove `count` pods, not-ready and youngest first, as the ReplicaSet controller ranks them."""
        ranked = sorted(pods, key=lambda p: (is_available[p["metadata"]["name"]], -self._born[_key(p)]))
        for pod in ranked[:max(count, 0)]:
            self._delete_pod(_key(pod))
        return min(max(count, 0), len(ranked))

    def _create_pod(self, deployment: Obj, pod_hash: str) -> None:
        template, meta = deployment["spec"]["template"], deployment["metadata"]
        labels = {**template["metadata"].get("labels", {}), "pod-template-hash": pod_hash}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{meta['name']}-{pod_hash}-{uuid.uuid4().hex[:5]}", "labels": labels,
                            "annotations": dict(template["metadata"].get("annotations", {}))},
               "spec": {**copy.deepcopy(template["spec"]), "nodeName": next(self.nodes)}}
        try:
            created = self.store.create(PODS, meta["namespace"], pod, CONTROLLER)
        except ApiError:  # a template whose pods the server refuses: the real controller retries and records why
            return
        key = _key(created)
        self._owner[key], self._born[key] = meta["uid"], time.monotonic()
        self.kubelet.run(created)

    def _forget(self, key: str) -> None:
        for table in (self._owner, self._born):
            table.pop(key, None)
        self.kubelet.forget(key)

    def _delete_pod(self, key: str) -> None:
        self._forget(key)
        self.store.delete(PODS, *key.split("/", 1))

    def _write_status(self, deployment: Obj, current_hash: str, min_available: int) -> None:
        spec, meta = deployment["spec"], deployment["metadata"]
        pods = self._pods_of(deployment)
        min_ready = spec.get("minReadySeconds", 0)
        updated = sum(p["metadata"]["labels"]["pod-template-hash"] == current_hash for p in pods)
        ready = sum(self.kubelet.ready_since(_key(p)) is not None for p in pods)
        available = sum(self._available(p, min_ready) for p in pods)
        desired = spec["replicas"]
        rollout = self._rollouts.setdefault(meta["uid"], _Rollout())
        progress = (current_hash, len(pods), updated, ready, available)
        if progress != rollout.progress:
            rollout.progress, rollout.progressed_at = progress, time.monotonic()
        replica_set = f'ReplicaSet "{meta["name"]}-{current_hash}"'
        if updated == desired == len(pods) == available:
            progressing = ("True", "NewReplicaSetAvailable", f"{replica_set} has successfully progressed.")
        elif time.monotonic() - rollout.progressed_at > spec["progressDeadlineSeconds"]:
            progressing = ("False", "ProgressDeadlineExceeded", f"{replica_set} has timed out progressing.")
        else:
            progressing = ("True", "ReplicaSetUpdated", f"{replica_set} is progressing.")
        has_minimum = available >= min_available
        old_conditions = {c["type"]: c for c in deployment["status"].get("conditions", [])}
        conditions = [_condition(old_conditions.get("Available"), "Available", "True" if has_minimum else "False",
                                 "MinimumReplicasAvailable" if has_minimum else "MinimumReplicasUnavailable",
                                 "Deployment has minimum availability." if has_minimum
                                 else "Deployment does not have minimum availability."),
                      _condition(old_conditions.get("Progressing"), "Progressing", *progressing)]
        status = {"observedGeneration": meta["generation"], "replicas": len(pods), "updatedReplicas": updated,
                  "readyReplicas": ready, "availableReplicas": available,
                  "unavailableReplicas": max(desired - available, 0), "conditions": conditions}
        if status != deployment["status"]:
            self.store.update_status(DEPLOYMENTS, meta["namespace"], meta["name"], status)


def _condition(old: Obj | None, kind: str, status: str, reason: str, message: str) -> Obj:
    """A condition whose timestamps move only when it changes, so an idle pass writes nothing."""
    if old and (old["status"], old["reason"], old["message"]) == (status, reason, message):
        return old
    stamp = now_rfc3339()
    transition = old["lastTransitionTime"] if old and old["status"] == status else stamp
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": stamp, "lastTransitionTime": transition}


def _key(pod: Obj) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
