"""A stand-in for a kubelet, which cannot run here (no container runtime, no cgroups to put pods in).

There is no scheduler either, so it does the part of both that kanri sees through the API: it registers one
Ready node at 127.0.0.1 and keeps it alive, binds every unscheduled pod to it, reports each pod Running and
Ready shortly after (as if its containers started), finishes deletions, and serves container logs where the
API server proxies pods/log. Nothing runs: pods get no IP, so nothing ever dials one.

Tests steer it: `hold_unready(predicate)` keeps matching pods running but not Ready (a rollout that does not
finish), `fail_init(predicate, message)` makes their first init container crash-loop; `clear()` lets them all
become Ready. A predicate takes the pod as the API server's JSON.

It follows the pods with one list-and-watch and acts on what it holds, at most every `interval` seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import urllib3
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

from tests.support.real_kubernetes import pod_status
from tests.support.real_kubernetes.certificates import Credentials
from tests.support.real_kubernetes.container_logs import ContainerLogs, LogServer, json_line

NODE = "standin-kubelet"
HEARTBEAT_SECONDS = 10.0  # the node controller marks a node unknown after 40 s without one
WATCH_SECONDS = 300
MERGE = "application/merge-patch+json"
Predicate = Callable[[dict], bool]
log = logging.getLogger(__name__)


@dataclass
class _Seen:
    """What the kubelet did to one pod (by uid), so that it does each thing once."""

    bound: bool = False
    running_since: float | None = None  # monotonic
    started_at: str = ""
    mode: str = ""  # what the status says: ready, unready or init-failing
    written: float = 0.0  # monotonic
    restarts: int = 0
    deleted: bool = False


class StandinKubelet:
    def __init__(self, api: client.ApiClient, credentials: Credentials, node: str = NODE,
                 ready_after: float = 0.5, interval: float = 0.25, restart_every: float = 1.0) -> None:
        self.node, self.ready_after, self.interval, self.restart_every = node, ready_after, interval, restart_every
        self._api = api  # its own: stop() closes it
        self._core = client.CoreV1Api(api)
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], dict] = {}
        self._seen: dict[str, _Seen] = {}
        self._unready: list[Predicate] = []
        self._failing: list[tuple[Predicate, str]] = []
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._registered = pod_status.now()
        self._watch_response: urllib3.BaseHTTPResponse | None = None
        self.logs = ContainerLogs()
        self._server = LogServer(self.logs, self.pod, credentials.serving_certificate, credentials.serving_key)
        self._threads = [threading.Thread(target=self._follow_pods, name="standin-kubelet-watch", daemon=True),
                         threading.Thread(target=self._run, name="standin-kubelet", daemon=True)]

    @property
    def port(self) -> int:
        """Where it serves container logs (the node's kubeletEndpoint)."""
        return self._server.port

    def start(self) -> StandinKubelet:
        self._server.start()
        self._core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node, "labels": {
            "kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}})
        self._heartbeat()
        self._list_pods()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop its threads and server and close its client; also after a start() that failed half-way."""
        self._stopping.set()
        self._wake.set()
        response = self._watch_response
        if response is not None:
            with contextlib.suppress(ValueError, RuntimeError):  # raised when the watch just ended
                response.shutdown()  # interrupts the watch's blocked read
        for thread in self._threads:
            if thread.ident is not None:  # started: start() may have failed before
                thread.join(10)
        self._server.stop()
        self._api.close()

    def hold_unready(self, predicate: Predicate) -> None:
        """Matching pods run but never become Ready (until clear())."""
        with self._lock:
            self._unready.append(predicate)
        self._wake.set()

    def fail_init(self, predicate: Predicate, message: str) -> None:
        """Matching pods' first init container exits with 128 and `message`, again every `restart_every` s
        (pods without an init container are not affected)."""
        with self._lock:
            self._failing.append((predicate, message))
        self._wake.set()

    def clear(self) -> None:
        """No more held or failing pods: every pod becomes Ready."""
        with self._lock:
            self._unready.clear()
            self._failing.clear()
        self._wake.set()

    def pod(self, namespace: str, name: str) -> dict | None:
        """The pod as last seen through the watch."""
        with self._lock:
            return self._pods.get((namespace, name))

    def write_log(self, namespace: str, pod: str, *lines: str, container: str = "") -> None:
        """Append lines to a container's log (by default the pod's first container)."""
        if not container:
            found = self.pod(namespace, pod)
            if found is None:
                raise KeyError(f"the stand-in kubelet knows no pod {namespace}/{pod}")
            container = found["spec"]["containers"][0]["name"]
        self.logs.write((namespace, pod, container), *lines)

    # The watch: the pods as the API server has them.

    def _list_pods(self) -> str:
        listed = json.loads(self._core.list_pod_for_all_namespaces(_preload_content=False).data)
        with self._lock:
            self._pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in listed["items"]}
        self._wake.set()
        return listed["metadata"]["resourceVersion"]

    def _follow_pods(self) -> None:
        version = None
        while not self._stopping.is_set():
            try:
                version = self._watch(version or self._list_pods())
            except client.ApiException as exc:
                if exc.status != 410:  # 410: too old to resume from; list again
                    log.warning("stand-in kubelet: watching pods failed: %s", exc)
                    self._stopping.wait(1)
                version = None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if not self._stopping.is_set():
                    log.warning("stand-in kubelet: watching pods failed: %s", exc)
                    self._stopping.wait(1)

    def _watch(self, version: str) -> str:
        """Apply watch events from `version` on until the watch ends; the version reached."""
        response = self._core.list_pod_for_all_namespaces(
            watch=True, resource_version=version, allow_watch_bookmarks=True, timeout_seconds=WATCH_SECONDS,
            _preload_content=False)
        self._watch_response = response
        try:
            for line in iter_resp_lines(response):
                event = json.loads(line)
                pod = event["object"]
                if event["type"] == "ERROR":
                    raise client.ApiException(status=pod.get("code"), reason=pod.get("message"))
                version = pod["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._update(event["type"], pod)
        finally:
            self._watch_response = None
            response.release_conn()
        return version

    def _update(self, kind: str, pod: dict) -> None:
        key = pod["metadata"]["namespace"], pod["metadata"]["name"]
        with self._lock:
            if kind == "DELETED":
                self._pods.pop(key, None)
                self._seen.pop(pod["metadata"]["uid"], None)
            else:
                self._pods[key] = pod
        if kind == "DELETED":
            self.logs.forget(*key)
        self._wake.set()

    # The work: act on every pod held.

    def _run(self) -> None:
        beat = time.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                self._attempt("heartbeat", self._heartbeat)
                beat = time.monotonic()
            with self._lock:
                pods = list(self._pods.values())
            for pod in pods:
                self._attempt(f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']}", self._act, pod)

    def _attempt(self, what: str, action: Callable[..., None], *args: object) -> None:
        """Run one action; a failure is logged and tried again next round, never ends the kubelet."""
        try:
            action(*args)
        except client.ApiException as exc:
            if exc.status != 404:  # 404: the pod went meanwhile
                log.exception("stand-in kubelet: %s failed", what)
        except Exception:
            log.exception("stand-in kubelet: %s failed", what)

    def _act(self, pod: dict) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        with self._lock:
            seen = self._seen.setdefault(meta["uid"], _Seen())
        if meta.get("deletionTimestamp"):
            if spec.get("nodeName") == self.node and not seen.deleted:
                self._delete(pod)
                seen.deleted = True
        elif not spec.get("nodeName"):
            if not seen.bound:
                self._bind(pod)
                seen.bound = True
        elif spec["nodeName"] == self.node:
            self._report(pod, seen)

    def _bind(self, pod: dict) -> None:
        meta = pod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"], "uid": meta["uid"]},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": self.node}}
        try:
            # Its answer is a Status, which the client cannot read as the Binding it expects.
            self._core.create_namespaced_pod_binding(meta["name"], meta["namespace"], binding, _preload_content=False)
        except client.ApiException as exc:
            if exc.status not in (404, 409):  # gone, or bound meanwhile
                raise

    def _delete(self, pod: dict) -> None:
        """A pod on a node stays Terminating until its kubelet has stopped the containers and says so."""
        meta = pod["metadata"]
        try:
            # In the body, which wins over query parameters.
            self._core.delete_namespaced_pod(meta["name"], meta["namespace"], body={
                "gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}, _preload_content=False)
        except client.ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def _report(self, pod: dict, seen: _Seen) -> None:
        """Write the pod's status when it should change: after `ready_after`, on a new mode, on a restart."""
        now = time.monotonic()
        if seen.running_since is None:
            seen.running_since, seen.started_at = now, pod_status.now()
        if now - seen.running_since < self.ready_after:
            return
        mode, message = self._mode(pod)
        restart_due = mode == "init-failing" and now - seen.written >= self.restart_every
        if mode == seen.mode and not restart_due:
            return
        meta = pod["metadata"]
        if mode == "init-failing":
            seen.restarts += 1
            first = pod["spec"]["initContainers"][0]["name"]
            self.logs.restart((meta["namespace"], meta["name"], first), json_line(pod, first, message, "error"))
            status = pod_status.init_crash_loop(pod, seen.started_at, seen.restarts, message)
        else:
            if seen.mode in ("", "init-failing"):
                self._start_containers(pod, restarted=seen.mode == "init-failing")
            status = pod_status.running(pod, seen.started_at, ready=mode == "ready")
        self._core.patch_namespaced_pod_status(meta["name"], meta["namespace"], {"status": status},
                                               _content_type=MERGE, _preload_content=False)
        seen.mode, seen.written = mode, now

    def _mode(self, pod: dict) -> tuple[str, str]:
        with self._lock:
            failing, unready = list(self._failing), list(self._unready)
        if pod["spec"].get("initContainers"):
            for predicate, message in failing:
                if predicate(pod):
                    return "init-failing", message
        return ("unready" if any(p(pod) for p in unready) else "ready"), ""

    def _start_containers(self, pod: dict, restarted: bool) -> None:
        """Every container logs what it does on start; the init container that crash-looped in a new attempt."""
        meta = pod["metadata"]
        for index, container in enumerate(pod["spec"].get("initContainers", [])):
            name = container["name"]
            write = self.logs.restart if restarted and index == 0 else self.logs.write
            write((meta["namespace"], meta["name"], name), json_line(pod, name, f"{name} done"))
        for container in pod["spec"]["containers"]:
            name = container["name"]
            self.logs.write((meta["namespace"], meta["name"], name),
                            json_line(pod, name, f"{name} starting"), json_line(pod, name, f"{name} ready"))

    def _heartbeat(self) -> None:
        at = pod_status.now()
        resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        status = {
            "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux",
                         "architecture": "amd64", "osImage": "kanri stand-in kubelet", "kernelVersion": "",
                         "containerRuntimeVersion": "standin://0", "machineID": "", "systemUUID": "", "bootID": ""},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastHeartbeatTime": at,
                            "lastTransitionTime": self._registered}],
        }
        self._core.patch_node_status(self.node, {"status": status}, _content_type=MERGE, _preload_content=False)
