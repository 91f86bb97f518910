"""Pods as a real API server returns them (v1.20 to now) in the states operators meet: the predictor fetch
(init container fetch-predictor) running, failing once, in a crash loop; the runtime crash-looping beside an
Istio sidecar; unschedulable, evicted, running but not ready. The shapes are those the kubelet writes."""

from __future__ import annotations

import copy

APP, SERVICE, LEVEL = "digits", "main", "production"
BACK_OFF = "back-off 40s restarting failed container={c} pod={p}_kanri(0f6c2b1e-5d0a-4c59-9f3e-2f1d2c7b9a10)"
GIT_FAILED = "fatal: repository 'https://git.example.com/ml/digits.git/' not found"


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict:
    found = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None,
             "lastTransitionTime": "2026-12-04T10:00:00Z"}
    return found | ({"reason": reason, "message": message} if reason else {})


def _running(name: str, ready: bool = True, restarts: int = 0, last: dict | None = None) -> dict:
    found = {"name": name, "state": {"running": {"startedAt": "2026-12-04T10:00:05Z"}}, "ready": ready,
             "restartCount": restarts, "image": "ghcr.io/kanri/kanri:1", "started": True,
             "containerID": f"containerd://{name}-1", "lastState": {}}
    return found | ({"lastState": {"terminated": last}} if last else {})


def _terminated(reason: str, code: int, message: str = "", restart: int = 1) -> dict:
    found = {"exitCode": code, "reason": reason, "startedAt": "2026-12-04T10:00:01Z",
             "finishedAt": "2026-12-04T10:00:02Z", "containerID": f"containerd://run-{restart}"}
    return found | ({"message": message} if message else {})


def _waiting(name: str, reason: str, message: str = "", restarts: int = 0, last: dict | None = None) -> dict:
    found = {"name": name, "state": {"waiting": {"reason": reason} | ({"message": message} if message else {})},
             "ready": False, "restartCount": restarts, "image": "ghcr.io/kanri/kanri:1", "started": False,
             "lastState": {}}
    return found | ({"lastState": {"terminated": last}} if last else {})


def _ended(name: str, terminated: dict, restarts: int = 0) -> dict:
    return {"name": name, "state": {"terminated": terminated}, "ready": False, "restartCount": restarts,
            "image": "ghcr.io/kanri/kanri:1", "lastState": {}}


def pod(name: str, phase: str, conditions: list[dict], init: list[dict] | None = None,
        containers: list[dict] | None = None, sidecar: bool = False, **status: object) -> dict:
    spec_containers = [{"name": "kanri", "image": "ghcr.io/kanri/kanri:1"}]
    if sidecar:
        spec_containers.append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0"})
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "kanri", "creationTimestamp": "2026-12-04T10:00:00Z",
                     "labels": {"kanri.io/managed-by": "kanri", "kanri.io/app": APP, "kanri.io/service": SERVICE,
                                "kanri.io/service-level": LEVEL},
                     "annotations": {"kanri.io/model-version": "3"}},
        "spec": {"initContainers": [{"name": "fetch-predictor", "image": "ghcr.io/kanri/kanri:1"}],
                 "containers": spec_containers, "nodeName": "node-a"},
        "status": {"phase": phase, "conditions": conditions, "startTime": "2026-12-04T10:00:00Z",
                   **({"initContainerStatuses": init} if init is not None else {}),
                   **({"containerStatuses": containers} if containers is not None else {}), **status},
    }


def _initializing(name: str, fetch: dict, **more: object) -> dict:
    """A pod whose init container has not finished: Pending, Initialized False, the runtime not started."""
    return pod(name, "Pending", [
        _condition("Initialized", False, "ContainersNotInitialized", "containers with incomplete status: "
                                                                     "[fetch-predictor]"),
        _condition("Ready", False, "ContainersNotReady", "containers with unready status: [kanri]"),
        _condition("ContainersReady", False, "ContainersNotReady", "containers with unready status: [kanri]"),
        _condition("PodScheduled", True)], init=[fetch], containers=[_waiting("kanri", "PodInitializing")], **more)


def fetching(name: str = "digits-main-7d9f8-fetch") -> dict:
    """The predictor fetch runs (the first time)."""
    return _initializing(name, _running("fetch-predictor", ready=False))


def fetch_failed(name: str = "digits-main-7d9f8-error") -> dict:
    """The first failure, before any back-off."""
    return _initializing(name, _ended("fetch-predictor", _terminated("Error", 128, GIT_FAILED)))


def fetch_crash_loop(name: str = "digits-main-7d9f8-loop", restarts: int = 4) -> dict:
    return _initializing(name, _waiting("fetch-predictor", "CrashLoopBackOff", BACK_OFF.format(
        c="fetch-predictor", p=name), restarts, _terminated("Error", 128, GIT_FAILED + "\n", restarts)))


def _initialized(name: str, ready: bool, kanri: dict, sidecar: bool = True) -> dict:
    unready = "containers with unready status: [kanri]"
    conditions = [_condition("Initialized", True),
                  _condition("Ready", ready, *(() if ready else ("ContainersNotReady", unready))),
                  _condition("ContainersReady", ready, *(() if ready else ("ContainersNotReady", unready))),
                  _condition("PodScheduled", True)]
    containers = [kanri, *([_running("istio-proxy")] if sidecar else [])]
    fetched = _ended("fetch-predictor", _terminated("Completed", 0))
    return pod(name, "Running", conditions, init=[fetched], containers=containers, sidecar=sidecar)


def serving(name: str = "digits-main-7d9f8-ok", restarts: int = 0) -> dict:
    return _initialized(name, True, _running("kanri", restarts=restarts))


def runtime_crash_loop(name: str = "digits-main-7d9f8-crash", restarts: int = 5) -> dict:
    return _initialized(name, False, _waiting("kanri", "CrashLoopBackOff", BACK_OFF.format(c="kanri", p=name),
                                              restarts, _terminated("Error", 1, restart=restarts)))


def out_of_memory(name: str = "digits-main-7d9f8-oom") -> dict:
    return _initialized(name, False, _ended("kanri", _terminated("OOMKilled", 137), restarts=2))


def not_ready(name: str = "digits-main-7d9f8-probe") -> dict:
    """Running, but its readiness probe fails (a model that does not load)."""
    return _initialized(name, False, _running("kanri", ready=False))


def unschedulable(name: str = "digits-main-7d9f8-gpu") -> dict:
    return pod(name, "Pending", [_condition("PodScheduled", False, "Unschedulable",
                                            "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")])


def evicted(name: str = "digits-main-7d9f8-evicted") -> dict:
    return pod(name, "Failed", [], reason="Evicted", message="The node was low on resource: memory. ")


def terminating(obj: dict) -> dict:
    gone = copy.deepcopy(obj)
    gone["metadata"]["deletionTimestamp"] = "2026-12-04T10:05:00Z"
    return gone


def with_native_sidecar(obj: dict) -> dict:
    """Istio's native sidecar mode: istio-proxy as a restartable init container that has started, first."""
    changed = copy.deepcopy(obj)
    changed["spec"]["initContainers"].insert(0, {"name": "istio-proxy", "restartPolicy": "Always"})
    changed["status"]["initContainerStatuses"].insert(0, _running("istio-proxy"))
    return changed
