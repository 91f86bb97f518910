"""A fake of the two Kubernetes API calls pod-log following needs (no API server runs here):

    GET /api/v1/namespaces/{ns}/pods?labelSelector=k=v,...        -> a PodList
    GET /api/v1/namespaces/{ns}/pods/{pod}/log?container=C&previous=true&timestamps=true&sinceSeconds=N&tailLines=N

It answers as the API server and the kubelet behind it do (v1.20 to now):
a pod has containers and init containers, each with the log of its running
(or last) instance and, once it restarted, of its previous one. Without
`container` the server picks the pod's only container; with several (an
Istio sidecar beside the runtime) it refuses with 400 and names them. An
unknown container, a previous instance that does not exist, or a container
still waiting to start is the same 400 with the real message.

Lines are stamped when written, as the kubelet does, in Go's RFC3339Nano
(trailing zeros of the fraction dropped). Talk to it with the official client:
`kubernetes.client.ApiClient(Configuration(host=fake.url))`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")

Stamped = list[tuple[int, str]]


def rfc3339_nano(nanos: int) -> str:
    seconds, fraction = divmod(nanos, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


class Refused(Exception):
    """An answer other than a log: the HTTP status and the Status message the real server sends."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Container:
    lines: Stamped = field(default_factory=list)  # the running (or last) instance's log
    previous: Stamped | None = None  # the instance before the last restart; None: it never restarted
    waiting: str = ""  # why it has not started yet (PodInitializing, ...): the kubelet has no log for it


@dataclass
class FakePod:
    labels: dict[str, str]
    containers: dict[str, Container]  # spec.containers, in order
    init_containers: dict[str, Container]

    def log(self, name: str, container: str, previous: bool) -> Stamped:
        """The log the API server would proxy from the kubelet, or its refusal."""
        if not container:
            if len(self.containers) != 1:
                raise Refused(400, self._choose(name))
            container = next(iter(self.containers))
        found = self.containers.get(container) or self.init_containers.get(container)
        if found is None:
            raise Refused(400, f"container {container} is not valid for pod {name}")
        if previous:
            if found.previous is None:
                raise Refused(400, f'previous terminated container "{container}" in pod "{name}" not found')
            return list(found.previous)
        if found.waiting:
            raise Refused(400, f'container "{container}" in pod "{name}" is waiting to start: {found.waiting}')
        return list(found.lines)

    def _choose(self, name: str) -> str:
        if not self.containers:
            return f"a container name must be specified for pod {name}"
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(self.containers)}]"
        if self.init_containers:
            message += f" or one of the init containers: [{' '.join(self.init_containers)}]"
        return message

    def resource(self, namespace: str, name: str) -> dict:
        return {"metadata": {"name": name, "namespace": namespace, "labels": self.labels},
                "spec": {"initContainers": [{"name": n} for n in self.init_containers],
                         "containers": [{"name": n} for n in self.containers]},
                "status": {"phase": "Running"}}


class FakePodLogs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], FakePod] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_pod(self, namespace: str, name: str, labels: dict[str, str], *,
                containers: Sequence[str] = ("kanri",), init_containers: Sequence[str] = ("fetch-predictor",),
                waiting: Mapping[str, str] | None = None) -> None:
        """A pod as kanri writes it by default: the runtime container "kanri" and the init container that
        fetches the predictor (add "istio-proxy" for an injected sidecar). `waiting` maps containers that have
        not started to the kubelet's reason (PodInitializing). Adding a pod again keeps its logs."""
        with self._lock:
            if (namespace, name) in self._pods:
                return
            waiting = waiting or {}
            self._pods[(namespace, name)] = FakePod(
                labels, {c: Container(waiting=waiting.get(c, "")) for c in containers},
                {c: Container(waiting=waiting.get(c, "")) for c in init_containers})

    def write(self, namespace: str, name: str, *lines: str, container: str = "kanri") -> None:
        """Append lines to a container's log, stamped now (strictly increasing within the pod); it has started."""
        with self._lock:
            found = self._container(namespace, name, container)
            found.waiting = ""
            for line in lines:
                nanos = max(time.time_ns(), found.lines[-1][0] + 1 if found.lines else 0)
                found.lines.append((nanos, line))

    def restart(self, namespace: str, name: str, container: str = "kanri") -> None:
        """The container ended and the kubelet started it again: its log so far becomes the previous one."""
        with self._lock:
            found = self._container(namespace, name, container)
            found.previous, found.lines = found.lines, []

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _container(self, namespace: str, name: str, container: str) -> Container:
        pod = self._pods[(namespace, name)]
        return pod.containers.get(container) or pod.init_containers[container]

    def _list(self, namespace: str, selector: str) -> dict:
        wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
        with self._lock:
            items = [pod.resource(ns, name) for (ns, name), pod in self._pods.items()
                     if ns == namespace and wanted.items() <= pod.labels.items()]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}

    def _log(self, namespace: str, name: str, params: dict[str, list[str]]) -> str:
        def flag(key: str) -> bool:
            return params.get(key, ["false"])[0] == "true"

        with self._lock:
            pod = self._pods.get((namespace, name))
            if pod is None:
                raise Refused(404, f'pods "{name}" not found')
            lines = pod.log(name, params.get("container", [""])[0], flag("previous"))
        if "sinceSeconds" in params:
            since = time.time_ns() - int(params["sinceSeconds"][0]) * 1_000_000_000
            lines = [(n, text) for n, text in lines if n >= since]
        if "tailLines" in params:
            lines = lines[-int(params["tailLines"][0]):]
        return "".join(f"{rfc3339_nano(n)} {text}\n" if flag("timestamps") else f"{text}\n" for n, text in lines)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = parse_qs(url.query)
                try:
                    if m := PODS.match(url.path):
                        self._answer(200, json.dumps(fake._list(m[1], params.get("labelSelector", [""])[0])),
                                     "application/json")
                    elif m := LOG.match(url.path):
                        self._answer(200, fake._log(m[1], m[2], params), "text/plain")
                    else:
                        raise Refused(404, "the server could not find the requested resource")
                except Refused as refused:
                    self._answer(refused.code, json.dumps(_status(refused)), "application/json")

            def _answer(self, status: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _status(refused: Refused) -> dict:
    """The Status object the API server answers a refusal with."""
    reason = {400: "BadRequest", 404: "NotFound"}[refused.code]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": refused.message,
            "reason": reason, "code": refused.code}
