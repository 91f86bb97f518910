"""An HTTP forward proxy on a loopback port that records every request passing through it.

Point the official Kubernetes client at it (`Configuration.proxy`) to learn which API calls a piece of
code makes, on the wire, without touching the client: `rbac_requests` turns them into the
(API group, resource, verb) triples Kubernetes RBAC authorizes. `intercept` makes it answer chosen
requests itself: drop them unanswered, as an API server going away in the middle of a change would, or
refuse them with a status (a 409 Conflict from a concurrent writer).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from kubernetes import client

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class RecordingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.requests: list[tuple[str, str]] = []  # (method, absolute URL)
        self.lock = threading.Lock()
        # (method, URL) -> None: forward it; 0: drop the connection unanswered; else answer with that status
        self.intercept: Callable[[str, str], int | None] = lambda method, url: None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: without this, 40 ms per call
    server: RecordingProxy

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _forward(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path))
        status = self.server.intercept(self.command, self.path)
        if status == 0:
            self.close_connection = True
            return
        if status is not None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status,
                               "message": "intercepted by the test's proxy"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        try:
            upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body or None,
                             headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


@contextmanager
def recording_proxy() -> Iterator[RecordingProxy]:
    proxy = RecordingProxy()
    thread = threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def rbac_requests(requests: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
    """(API group, resource[/subresource], verb) of each namespaced API request, as RBAC names them. Discovery
    (/version, /api, /apis and below, up to a group version) is left out: every authenticated user may read it
    (the ClusterRole system:discovery), so no Role of kanri's grants it."""
    found = set()
    for method, url in requests:
        parts = urlsplit(url)
        segments = parts.path.strip("/").split("/")
        if segments[0] == "version" or len(segments) <= (2 if segments[0] == "api" else 3):
            continue
        group, rest = ("", segments[2:]) if segments[0] == "api" else (segments[1], segments[3:])
        if len(rest) < 3 or rest[0] != "namespaces":
            found.add((group, "/".join(rest), method.lower()))  # not namespaced: no Role can allow it
            continue
        resource, named = rest[2], len(rest) > 3
        if len(rest) > 4:
            resource = f"{resource}/{rest[4]}"
        if method == "GET":
            verb = "watch" if parse_qs(parts.query).get("watch") == ["true"] else ("get" if named else "list")
        else:
            verb = VERBS[method]
        if verb == "patch" and "fieldManager" in parse_qs(parts.query):
            found.add((group, resource, "create"))  # a server-side apply that creates is authorized as create too
        found.add((group, resource, verb))
    return found


def proxied_client(url: str, proxy: str = "") -> client.ApiClient:
    """The official client on the API server at `url`, through the proxy at `proxy` when given, without retries."""
    configuration = client.Configuration()
    configuration.host, configuration.retries = url, False
    if proxy:
        configuration.proxy = proxy
    return client.ApiClient(configuration)
