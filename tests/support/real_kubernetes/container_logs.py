"""Container logs as a kubelet serves them: over HTTPS at /containerLogs/NAMESPACE/POD/CONTAINER, where the
API server proxies pods/log (`kubectl logs`, read_namespaced_pod_log).

Each container keeps its attempts' lines (a restart begins a new attempt), stamped when written as the kubelet
stamps them. Like the kubelet, the server honours timestamps, sinceSeconds, sinceTime, tailLines, limitBytes
and previous, and answers with the kubelet's errors; `follow` ends with the lines written so far.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from kanri.serving.logs import JsonFormatter
from tests.fakes.pod_logs import rfc3339_nano

Key = tuple[str, str, str]  # namespace, pod, container
Stamped = list[tuple[int, str]]  # (nanoseconds since the epoch, line)


def json_line(pod: dict, container: str, message: str, level: str = "info") -> str:
    """A line as kanri's runtime writes it (serving.logs), with the pod's identity."""
    meta = pod["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    record = logging.makeLogRecord({
        "name": f"kanri.{container}", "levelname": level.upper(), "msg": message, "pid": 1, "pod": meta["name"],
        "app": labels.get("kanri.io/app", ""), "service": labels.get("kanri.io/service", ""),
        "service_level": labels.get("kanri.io/service-level", ""),
        "model_version": annotations.get("kanri.io/model-version", "")})
    return JsonFormatter().format(record)


class ContainerLogs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[Key, list[Stamped]] = {}

    def write(self, key: Key, *lines: str) -> None:
        """Append to the container's current attempt."""
        with self._lock:
            attempts = self._attempts.setdefault(key, [[]])
            self._append(attempts[-1], lines)

    def restart(self, key: Key, *lines: str) -> None:
        """Begin the container's next attempt (the first, when it never ran) with these lines."""
        with self._lock:
            attempts = self._attempts.setdefault(key, [])
            attempts.append([])
            self._append(attempts[-1], lines)

    def forget(self, namespace: str, pod: str) -> None:
        with self._lock:
            for key in [k for k in self._attempts if k[:2] == (namespace, pod)]:
                del self._attempts[key]

    def attempt(self, key: Key, back: int) -> Stamped | None:
        """The lines of the attempt `back` before the latest (0: the latest), if there was one."""
        with self._lock:
            attempts = self._attempts.get(key, [[]])
            return list(attempts[-1 - back]) if back < len(attempts) else None

    @staticmethod
    def _append(log: Stamped, lines: tuple[str, ...]) -> None:
        for line in lines:
            log.append((max(time.time_ns(), log[-1][0] + 1 if log else 0), line))


def select(lines: Stamped, params: dict[str, list[str]]) -> str:
    """The response body for the kubelet's query parameters."""
    since = None
    if "sinceSeconds" in params:
        since = time.time_ns() - int(params["sinceSeconds"][0]) * 1_000_000_000
    elif "sinceTime" in params:
        since = int(datetime.fromisoformat(params["sinceTime"][0].replace("Z", "+00:00")).timestamp() * 1e9)
    if since is not None:
        lines = [(n, text) for n, text in lines if n >= since]
    if "tailLines" in params:
        tail = int(params["tailLines"][0])
        lines = lines[-tail:] if tail else []
    stamped = params.get("timestamps", ["false"])[0] == "true"
    body = "".join(f"{rfc3339_nano(n)} {text}\n" if stamped else f"{text}\n" for n, text in lines)
    if "limitBytes" in params:
        body = body.encode()[:int(params["limitBytes"][0])].decode(errors="ignore")
    return body


class LogServer:
    """Serves ContainerLogs for the pods `find(namespace, name)` knows, on a free loopback port."""

    def __init__(self, logs: ContainerLogs, find: Callable[[str, str], dict | None], certificate: Path,
                 key: Path) -> None:
        self.logs, self.find = logs, find
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="standin-kubelet-logs", daemon=True)

    def start(self) -> LogServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.ident is not None:  # shutdown() waits for serve_forever forever
            self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, query: str) -> tuple[int, str]:
        """(HTTP status, body) for GET path?query, with the kubelet's status codes and messages."""
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return 404, "404 page not found\n"
        _, namespace, name, container = parts
        pod = self.find(namespace, name)
        if pod is None:
            return 404, f'pod "{name}" does not exist\n'
        statuses = {s["name"]: s for s in (pod.get("status", {}).get("initContainerStatuses") or [])
                    + (pod.get("status", {}).get("containerStatuses") or [])}
        specs = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
        if container not in {c["name"] for c in specs}:
            return 404, f'container "{container}" not found in pod "{name}"\n'
        status = statuses.get(container, {})
        state, crashed = status.get("state", {}), bool(status.get("lastState", {}).get("terminated"))
        params = parse_qs(query)
        if params.get("previous", ["false"])[0] == "true":
            # A container waiting to restart has no current attempt: its last one is the previous.
            lines = self.logs.attempt((namespace, name, container), 0 if "waiting" in state else 1) if crashed else None
            if lines is None:
                return 400, f'previous terminated container "{container}" in pod "{name}" not found'
            return 200, select(lines, params)
        if not state or ("waiting" in state and not crashed):
            reason = state.get("waiting", {}).get("reason", "ContainerCreating")
            return 400, f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        return 200, select(self.logs.attempt((namespace, name, container), 0) or [], params)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                status, body = server.answer(url.path, url.query)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
