"""The pod status a kubelet reports, in the shapes a real kubelet writes: a running pod (Ready or held
un-ready), and a pod whose init container crash-loops (`kubectl get pods` shows Init:CrashLoopBackOff)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_id(pod: dict, container: str, attempt: int = 0) -> str:
    return f"standin://{pod['metadata']['uid']}/{container}/{attempt}"


def _condition(kind: str, ok: bool, at: str, reason: str = "", message: str = "") -> dict:
    condition = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": at}
    return condition | ({"reason": reason, "message": message} if reason else {})


def _container(spec: dict, pod: dict, state: dict, *, ready: bool, started: bool, restarts: int = 0,
               last: dict | None = None) -> dict:
    status = {"name": spec["name"], "image": spec.get("image", ""), "imageID": "", "ready": ready,
              "restartCount": restarts, "started": started, "state": state, "lastState": last or {}}
    if restarts or not state.get("waiting"):  # a container that ever ran has an id
        status["containerID"] = container_id(pod, spec["name"], restarts)
    return status


def running(pod: dict, started_at: str, ready: bool) -> dict:
    """Every init container Completed, every container running; Ready unless held."""
    spec, at = pod["spec"], now()
    names = [c["name"] for c in spec["containers"]]
    unready = "" if ready else "ContainersNotReady"
    message = "" if ready else f"containers with unready status: [{' '.join(names)}]"
    inits = [_container(c, pod, {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started_at,
                                                "finishedAt": started_at, "containerID": container_id(pod, c["name"])}},
                        ready=True, started=False)
             for c in spec.get("initContainers", [])]
    return {
        "phase": "Running", "hostIP": "127.0.0.1", "startTime": started_at,
        "conditions": [_condition("Initialized", True, started_at), _condition("Ready", ready, at, unready, message),
                       _condition("ContainersReady", ready, at, unready, message),
                       _condition("PodScheduled", True, started_at)],
        "initContainerStatuses": inits,
        "containerStatuses": [_container(c, pod, {"running": {"startedAt": started_at}}, ready=ready, started=True)
                              for c in spec["containers"]],
    }


def init_crash_loop(pod: dict, started_at: str, restarts: int, message: str) -> dict:
    """The first init container exited with 128 and waits in CrashLoopBackOff; nothing after it started."""
    spec, meta = pod["spec"], pod["metadata"]
    first, *later = spec["initContainers"]
    failed = {"terminated": {"exitCode": 128, "reason": "Error", "message": message, "startedAt": now(),
                             "finishedAt": now(), "containerID": container_id(pod, first["name"], restarts)}}
    backoff = {"waiting": {"reason": "CrashLoopBackOff", "message": (
        f"back-off 10s restarting failed container={first['name']} pod={meta['name']}_{meta['namespace']}"
        f"({meta['uid']})")}}
    initializing = {"waiting": {"reason": "PodInitializing"}}
    pending = [c["name"] for c in spec["initContainers"]]
    names = [c["name"] for c in spec["containers"]]
    unready = f"containers with unready status: [{' '.join(names)}]"
    return {
        "phase": "Pending", "hostIP": "127.0.0.1", "startTime": started_at,
        "conditions": [
            _condition("Initialized", False, started_at, "ContainersNotInitialized",
                       f"containers with incomplete status: [{' '.join(pending)}]"),
            _condition("Ready", False, started_at, "ContainersNotReady", unready),
            _condition("ContainersReady", False, started_at, "ContainersNotReady", unready),
            _condition("PodScheduled", True, started_at)],
        "initContainerStatuses": [
            _container(first, pod, backoff, ready=False, started=False, restarts=restarts, last=failed),
            *(_container(c, pod, initializing, ready=False, started=False) for c in later)],
        "containerStatuses": [_container(c, pod, initializing, ready=False, started=False)
                              for c in spec["containers"]],
    }
