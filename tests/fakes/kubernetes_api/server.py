"""The HTTP side: Kubernetes REST paths to store operations, JSON answers, chunked watch streams."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .resources import KINDS, PODS, ApiError, Kind, Obj
from .store import Store

VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake", "gitCommit": "fake", "gitTreeState": "clean",
           "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: without this, 40 ms per call
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a test run should not print every request."""

    def _route(self) -> tuple[Kind, str, str, str, dict[str, str]]:
        """(kind, api version, namespace, name, query) for /api[s]/.../namespaces/NS/PLURAL[/NAME]."""
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
        if len(rest) not in (3, 4) or rest[0] != "namespaces":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        kind = KINDS.get((group, rest[2]))
        if kind is None or version not in kind.versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return kind, f"{group}/{version}" if group else version, rest[1], rest[3] if len(rest) == 4 else "", query

    def _body(self) -> Obj:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            raise ApiError(400, "BadRequest", f"the body is not JSON: {exc}") from None

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        try:
            if method == "GET" and urlsplit(self.path).path.rstrip("/") == "/version":
                return self._send(200, VERSION)
            kind, api_version, namespace, name, query = self._route()
            code, body = self._dispatch(method, kind, api_version, namespace, name, query)
            if body is not None:
                self._send(code, _stamp(body, kind, api_version))
        except ApiError as exc:
            self._send(exc.code, exc.status())
        except Exception as exc:  # a bug in the fake shows up as a 500 the client reports, not a hang
            self._send(500, ApiError(500, "InternalError", f"fake Kubernetes API: {exc!r}").status())

    def _dispatch(self, method: str, kind: Kind, api_version: str, namespace: str, name: str,
                  query: dict[str, str]) -> tuple[int, Obj | None]:
        store = self.server.store
        if not name:
            if method == "POST":
                return 201, store.create(kind, namespace, self._body())
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} on a collection is not supported by the fake")
            labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")
            if query.get("watch") in ("true", "1"):
                self._stream(kind, api_version, namespace, labels, fields, query)
                return 200, None
            with store.lock:
                items, rv = store.list(kind, namespace, labels, fields), store.rv
            return 200, {"kind": f"{kind.kind}List", "metadata": {"resourceVersion": str(rv)},
                         "items": items}
        if method == "GET":
            return 200, store.get(kind, namespace, name)
        if method == "PUT":
            return 200, store.replace(kind, namespace, name, self._body())
        if method == "PATCH":
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            return 200, store.patch(kind, namespace, name, self._body(), content_type)
        if method == "DELETE":  # pods and custom objects answer with the object, the others with a Status
            deleted = store.delete(kind, namespace, name)
            if kind is PODS or kind.group == "networking.istio.io":
                return 200, deleted
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "kind": kind.plural, "uid": deleted["metadata"]["uid"]}}
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported by the fake")

    def _stream(self, kind: Kind, api_version: str, namespace: str, labels: str, fields: str,
                query: dict[str, str]) -> None:
        """A watch: one JSON event per line in a chunked response, until timeoutSeconds or shutdown."""
        events = self.server.store.watch(kind, namespace, labels, fields, query.get("resourceVersion", ""),
                                         float(query.get("timeoutSeconds") or 1800))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                line = json.dumps({"type": event["type"], "object": _stamp(event["object"], kind, api_version)})
                line += "\n"
                self.wfile.write(f"{len(line.encode()):x}\r\n".encode() + line.encode() + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


def _stamp(obj: Obj, kind: Kind, api_version: str) -> Obj:
    """The kind and apiVersion of the URL the object was asked through (Istio serves v1 and v1beta1)."""
    if obj.get("kind") != "Status":
        obj.update(apiVersion=api_version, kind=kind.kind)
    return obj


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: Store) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = store
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close(self) -> None:
        """Stop as a real server going away does: kept-alive connections are cut too, not served on."""
        self.shutdown()
        self.server_close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
