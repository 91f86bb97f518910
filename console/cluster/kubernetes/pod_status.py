"""A pod's status as `kubectl get pods` prints it, and why, from the pod object the API server returns.

The pod phase alone hides what operators look for: a failing init container
(the predictor fetch) leaves the pod Pending, a crash loop leaves it Running.
kubectl's STATUS column (printPod in kubectl's printers) walks the init
containers, then the containers, and names the first thing in the way; this
module follows it, restartable (native sidecar) init containers included, and
adds the words behind it: the container's waiting message and the exit code
and message of its last run, else the message of the pod or of its first
failing condition (an unschedulable pod, a readiness probe that fails).
"""

from __future__ import annotations

from dataclasses import dataclass

# The conditions a pod passes in order; the first one that fails says why the pod is behind.
CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


@dataclass(frozen=True)
class PodStatus:
    status: str  # kubectl's STATUS: Running, Init:0/1, Init:CrashLoopBackOff, CrashLoopBackOff, Terminating, ...
    reason: str  # why, in the kubelet's words; "" for a pod that runs well
    restarts: int  # kubectl's RESTARTS: the init containers' while they run, else the containers'


def pod_status(pod: dict) -> PodStatus:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    shown = status.get("reason") or status.get("phase", "Unknown")
    culprit: tuple[str, dict] | None = None
    restarts = sidecar_restarts = 0
    initializing = False
    sidecars = {c["name"] for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"}
    for i, container in enumerate(status.get("initContainerStatuses", [])):
        restarts += container.get("restartCount", 0)
        sidecar = container.get("name") in sidecars
        if sidecar:
            sidecar_restarts += container.get("restartCount", 0)
        state = container.get("state", {})
        terminated, waiting = state.get("terminated"), state.get("waiting", {})
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and container.get("started"):
            continue
        if terminated:
            shown = "Init:" + _ended(terminated)
        elif waiting.get("reason") not in (None, "", "PodInitializing"):
            shown = "Init:" + waiting["reason"]
        else:
            shown = f"Init:{i}/{len(spec.get('initContainers', []))}"
        culprit, initializing = ("init container", container), True
        break
    if not initializing or _condition(pod, "Initialized"):
        restarts, has_running = sidecar_restarts, False
        for container in reversed(status.get("containerStatuses", [])):  # the first container has the last word
            restarts += container.get("restartCount", 0)
            state = container.get("state", {})
            terminated, waiting = state.get("terminated"), state.get("waiting", {})
            if waiting.get("reason"):
                shown, culprit = waiting["reason"], ("container", container)
            elif terminated:
                shown, culprit = _ended(terminated), ("container", container)
            elif container.get("ready") and "running" in state:
                has_running = True
        if shown == "Completed" and has_running:
            shown = "Running" if _condition(pod, "Ready") else "NotReady"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        shown = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return PodStatus(shown, _why(pod, culprit), restarts)


def _ended(terminated: dict) -> str:
    """A terminated container as kubectl names it: its reason, else the signal or exit code."""
    if terminated.get("reason"):
        return terminated["reason"]
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _condition(pod: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []))


def _why(pod: dict, culprit: tuple[str, dict] | None) -> str:
    status = pod.get("status", {})
    if status.get("message"):  # the kubelet's word on the whole pod: evicted, node lost
        return _one_line(status["message"])
    if culprit and (said := _container_words(culprit[1])):
        return f"{culprit[0]} {culprit[1].get('name', '')}: {said}"
    if _condition(pod, "Ready"):
        return ""
    conditions = {c.get("type"): c for c in status.get("conditions", [])}
    for kind in CONDITIONS:
        failed = conditions.get(kind, {})
        if failed.get("status") == "False" and failed.get("message"):
            return f"{failed.get('reason') or kind}: {_one_line(failed['message'])}"
    return ""


def _container_words(container: dict) -> str:
    """What the kubelet said about one container: how its run (or its last run) ended, then why it waits.
    The end comes first: a back-off message only repeats the status, the exit says what went wrong."""
    state, last = container.get("state", {}), container.get("lastState", {})
    said = []
    if ended := state.get("terminated"):
        said.append(_exit("exited", ended))
    elif ended := last.get("terminated"):
        said.append(_exit("last run exited", ended))
    if message := state.get("waiting", {}).get("message"):
        said.append(_one_line(message))
    return "; ".join(said)


def _exit(what: str, terminated: dict) -> str:
    how = f"on signal {terminated['signal']}" if terminated.get("signal") else str(terminated.get("exitCode", 0))
    text = f"{what} {how}" + (f" ({terminated['reason']})" if terminated.get("reason") else "")
    return text + (f": {_one_line(terminated['message'])}" if terminated.get("message") else "")


def _one_line(text: str) -> str:
    """Termination messages are often a log tail: one line for a table cell."""
    return " ".join(text.split())
