"""A simulated kubelet: the pod status a real one writes as init containers run, then containers start.

Per pod, in fake time: init containers run for the first half of
`ready_after` and end Completed, then the containers are created, and at
`ready_after` they run and the pod is Ready (never, for pods `never_ready`
matches: those run unready). A pod an InitFailure matches stays Pending with
its first init container failing the way a kubelet reports it: waiting in
CrashLoopBackOff, its last run terminated with exit code 128, and a restart
count that grows with a doubling back-off. Restartable init containers
(native sidecars) start with the pod and keep running. Only pods the
deployment controller created are run; pods created through the API keep the
status they are given.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from .resources import PODS, Obj, now_rfc3339
from .store import Store

Predicate = Callable[[Obj], bool]


@dataclass(frozen=True)
class InitFailure:
    matches: Predicate
    reason: str
    message: str


@dataclass
class _Run:
    """What the kubelet remembers of one pod."""

    born: float
    started_at: str
    restarts: int = 0
    next_restart: float = 0.0
    failed_at: str = ""
    created: bool = False  # a "containers being created" status was written: the init containers' end was seen
    ready_since: float | None = None


def _id(kind: str, *parts: str) -> str:
    return f"{kind}://" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:64]


def _sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _names(containers: list[Obj]) -> str:
    """A Go []string as the kubelet prints it in condition messages: [a b]."""
    return "[" + " ".join(c["name"] for c in containers) + "]"


class Kubelet:
    def __init__(self, store: Store, ready_after: float) -> None:
        self.store = store
        self.ready_after = ready_after
        self.never_ready: list[Predicate] = []
        self.init_failures: list[InitFailure] = []
        self._runs: dict[str, _Run] = {}

    def run(self, pod: Obj) -> None:
        self._runs[_key(pod)] = _Run(time.monotonic(), now_rfc3339())
        self.sync(pod)

    def forget(self, key: str) -> None:
        self._runs.pop(key, None)

    def ready_since(self, key: str) -> float | None:
        return self._runs[key].ready_since if key in self._runs else None

    def sync(self, pod: Obj) -> None:
        """Write the status this pod has reached by now (nothing when it is the one it has)."""
        run = self._runs[_key(pod)]
        stage, failure = self._stage(pod, run, time.monotonic())
        self.store.update_status(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"],
                                 self._status(pod, run, stage, failure))

    def _stage(self, pod: Obj, run: _Run, now: float) -> tuple[str, InitFailure | None]:
        """Where the pod is: initializing, failing (and how), creating (its containers), unready or ready."""
        regular_init = [c for c in pod["spec"].get("initContainers", []) if not _sidecar(c)]
        failure = next((f for f in self.init_failures if f.matches(pod)), None) if regular_init and not run.created \
            else None  # init containers run once: a pod past them does not go back
        age = now - run.born
        if failure and age >= self.ready_after / 2 and now >= run.next_restart:
            if failure.reason == "CrashLoopBackOff":
                run.restarts, run.failed_at = run.restarts + 1, now_rfc3339()
            run.next_restart = now + self.ready_after * 2 ** min(run.restarts, 5)
        if failure or (regular_init and age < self.ready_after / 2):
            stage = "failing" if failure and age >= self.ready_after / 2 else "initializing"
        elif age < self.ready_after:
            stage = "creating"
        elif any(broken(pod) for broken in self.never_ready):
            stage = "unready"
        else:
            stage = "ready"
        if regular_init and stage in ("unready", "ready") and not run.created:
            stage = "creating"  # however late this sync, the init containers' end is written before the start
        run.created |= stage == "creating"
        if stage == "ready" and run.ready_since is None:
            run.ready_since = now
        return stage, failure

    def _status(self, pod: Obj, run: _Run, stage: str, failure: InitFailure | None) -> Obj:
        spec, old = pod["spec"], pod.get("status") or {}
        initialized = stage not in ("initializing", "failing")
        init_statuses, waiting_on_init = [], False
        for container in spec.get("initContainers", []):
            if _sidecar(container):
                init_statuses.append(self._running(pod, container, run, ready=stage == "ready"))
            elif initialized:
                init_statuses.append(self._completed(pod, container, run))
            elif waiting_on_init:
                init_statuses.append(self._waiting(container, "PodInitializing"))
            else:
                waiting_on_init = True
                init_statuses.append(self._failing(pod, container, run, failure) if failure and stage == "failing"
                                     else self._running(pod, container, run, ready=False))
        containers = spec.get("containers", [])
        if stage in ("unready", "ready"):
            statuses = [self._running(pod, c, run, ready=stage == "ready") for c in containers]
        else:
            statuses = [self._waiting(c, "ContainerCreating" if initialized else "PodInitializing")
                        for c in containers]
        ready = stage == "ready"
        sidecars = [c for c in spec.get("initContainers", []) if _sidecar(c)]
        unready = _names([*sidecars, *containers])
        incomplete = _names([c for c in spec.get("initContainers", []) if not _sidecar(c)])
        conditions = [_condition("Initialized", initialized, "ContainersNotInitialized",
                                 f"containers with incomplete status: {incomplete}"),
                      _condition("Ready", ready, "ContainersNotReady", f"containers with unready status: {unready}"),
                      _condition("ContainersReady", ready, "ContainersNotReady",
                                 f"containers with unready status: {unready}"),
                      _condition("PodScheduled", True, "", "")]
        status = {"phase": "Running" if stage in ("unready", "ready") else "Pending",
                  "conditions": _keep_transitions(old.get("conditions", []), conditions),
                  "hostIP": "192.168.0.10", "podIP": "10.244.0.10", "podIPs": [{"ip": "10.244.0.10"}],
                  "startTime": run.started_at, "containerStatuses": statuses}
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        return status | ({"qosClass": old["qosClass"]} if "qosClass" in old else {})  # the API server's, kept

    @staticmethod
    def _base(container: Obj) -> Obj:
        return {"name": container["name"], "image": container.get("image", ""), "imageID": "", "lastState": {},
                "ready": False, "restartCount": 0, "started": False}

    def _waiting(self, container: Obj, reason: str) -> Obj:
        return {**self._base(container), "state": {"waiting": {"reason": reason}}}

    def _ran(self, pod: Obj, container: Obj) -> Obj:
        image = container.get("image", "")
        digest = hashlib.sha256(image.encode()).hexdigest()
        return {**self._base(container), "imageID": f"{image.split(':')[0]}@sha256:{digest}",
                "containerID": _id("containerd", pod["metadata"]["uid"], container["name"])}

    def _running(self, pod: Obj, container: Obj, run: _Run, ready: bool) -> Obj:
        return {**self._ran(pod, container), "ready": ready, "started": True,
                "state": {"running": {"startedAt": run.started_at}}}

    def _completed(self, pod: Obj, container: Obj, run: _Run) -> Obj:
        return {**self._ran(pod, container), "ready": True, "state": {"terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": run.started_at, "finishedAt": run.started_at,
            "containerID": _id("containerd", pod["metadata"]["uid"], container["name"])}}}

    def _failing(self, pod: Obj, container: Obj, run: _Run, failure: InitFailure) -> Obj:
        meta = pod["metadata"]
        if failure.reason != "CrashLoopBackOff":  # an image pull or configuration error: it never ran
            return {**self._waiting(container, failure.reason),
                    "state": {"waiting": {"reason": failure.reason, "message": failure.message}}}
        delay = min(10 * 2 ** (run.restarts - 1), 300)
        ran = self._ran(pod, container)
        return {**ran, "restartCount": run.restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": f"back-off {delay}s restarting failed container={container['name']}"
                                                 f" pod={meta['name']}_{meta['namespace']}({meta['uid']})"}},
                "lastState": {"terminated": {"exitCode": 128, "reason": "Error", "message": failure.message,
                                             "startedAt": run.failed_at, "finishedAt": run.failed_at,
                                             "containerID": ran["containerID"]}}}


def _condition(kind: str, holds: bool, reason: str, message: str) -> Obj:
    condition = {"type": kind, "status": "True" if holds else "False", "lastProbeTime": None,
                 "lastTransitionTime": now_rfc3339()}
    return condition if holds else {**condition, "reason": reason, "message": message}


def _keep_transitions(old: list[Obj], new: list[Obj]) -> list[Obj]:
    """A condition that did not change keeps its lastTransitionTime, so an idle sync writes nothing."""
    before = {c["type"]: c for c in old}
    return [before[c["type"]] if before.get(c["type"], {}).get("status") == c["status"]
            and before[c["type"]].get("message") == c.get("message") else c for c in new]


def _key(pod: Obj) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
