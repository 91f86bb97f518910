"""A fake of the two Kubernetes API calls pod-log following needs (no API server runs here):

    GET /api/v1/namespaces/{ns}/pods?labelSelector=k=v,...        -> a PodList
    GET /api/v1/namespaces/{ns}/pods/{pod}/log?timestamps=true&sinceSeconds=N&tailLines=N

Lines are stamped when written, as the kubelet does, in Go's RFC3339Nano
(trailing zeros of the fraction dropped). Talk to it with the official client:
`kubernetes.client.ApiClient(Configuration(host=fake.url))`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


def rfc3339_nano(nanos: int) -> str:
    seconds, fraction = divmod(nanos, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


class FakePodLogs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], dict[str, str]] = {}
        self._lines: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_pod(self, namespace: str, name: str, labels: dict[str, str]) -> None:
        with self._lock:
            self._pods[(namespace, name)] = labels
            self._lines.setdefault((namespace, name), [])

    def write(self, namespace: str, name: str, *lines: str) -> None:
        """Append lines to a pod's log, stamped now (strictly increasing within the pod)."""
        with self._lock:
            log = self._lines[(namespace, name)]
            for line in lines:
                nanos = max(time.time_ns(), log[-1][0] + 1 if log else 0)
                log.append((nanos, line))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _list(self, namespace: str, selector: str) -> dict:
        wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
        with self._lock:
            names = [(name, labels) for (ns, name), labels in self._pods.items()
                     if ns == namespace and wanted.items() <= labels.items()]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [
            {"metadata": {"name": name, "namespace": namespace, "labels": labels},
             "spec": {"containers": [{"name": "kanri"}]}, "status": {"phase": "Running"}}
            for name, labels in names]}

    def _log(self, namespace: str, name: str, params: dict[str, list[str]]) -> str | None:
        with self._lock:
            if (namespace, name) not in self._lines:
                return None
            lines = list(self._lines[(namespace, name)])
        if "sinceSeconds" in params:
            since = time.time_ns() - int(params["sinceSeconds"][0]) * 1_000_000_000
            lines = [(n, text) for n, text in lines if n >= since]
        if "tailLines" in params:
            lines = lines[-int(params["tailLines"][0]):]
        stamped = params.get("timestamps", ["false"])[0] == "true"
        return "".join(f"{rfc3339_nano(n)} {text}\n" if stamped else f"{text}\n" for n, text in lines)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = parse_qs(url.query)
                if m := PODS.match(url.path):
                    self._answer(200, json.dumps(fake._list(m[1], params.get("labelSelector", [""])[0])),
                                 "application/json")
                elif (m := LOG.match(url.path)) and (text := fake._log(m[1], m[2], params)) is not None:
                    self._answer(200, text, "text/plain")
                else:
                    self._answer(404, json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                  "reason": "NotFound", "code": 404}), "application/json")

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
