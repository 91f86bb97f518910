"""The HTTP side: discovery and REST paths to store operations, query options, JSON answers, chunked watches."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

from . import discovery
from .patches import APPLY, BUILT_IN_TYPES, CUSTOM_TYPES, JSON_PATCH
from .resources import ApiError, Kind, Obj, bad_request, not_served
from .served import ServedApis
from .store import Store, Write
from .validation import FieldError, invalid, quote
from .watches import WatchRequest, stream

_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # what Go's strconv.ParseBool takes as true
_PROPAGATION = ("Foreground", "Background", "Orphan")


@dataclass(frozen=True)
class Route:
    kind: Kind
    api_version: str
    namespace: str  # "" for a list or watch across namespaces
    name: str
    query: dict[str, str]


def _stamp(obj: Obj, kind: Kind, api_version: str) -> Obj:
    """The object as read through the URL's version (the fake converts nothing but apiVersion)."""
    return {"apiVersion": api_version, "kind": kind.kind, **{k: v for k, v in obj.items()
                                                                if k not in ("apiVersion", "kind")}}


def _options_invalid(options: str, errors: list[FieldError]) -> ApiError:
    return invalid(f"{options}.meta.k8s.io", "", errors)


def _dry_run(value: object, options: str) -> bool:
    """dryRun: nothing, or All (a list of them in a DeleteOptions body); anything else is refused."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    if any(v != "All" for v in values):
        shown = "[]string{" + ", ".join(quote(str(v)) for v in values) + "}"
        raise _options_invalid(options, [FieldError("dryRun", "Unsupported value", 'supported values: "All"', shown)])
    return bool(values)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: without this, 40 ms per call
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a test run should not print every request."""

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        # Read the whole body first: one left unread on a refused request would be taken for the next request.
        self._raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if method == "GET" and (document := self._discovery(parts)) is not None:
                return self._send(200, document)
            route = self._route(parts, {k: v[-1] for k, v in parse_qs(url.query).items()})
            code, body = self._dispatch(method, route)
            if body is not None:
                self._send(code, body)
        except ApiError as exc:
            self._send(exc.code, exc.status())
        except Exception as exc:  # a bug in the fake shows up as a 500 the client reports, not a hang
            self._send(500, ApiError(500, "InternalError", f"fake Kubernetes API: {exc!r}").status())

    def _discovery(self, parts: list[str]) -> Obj | None:
        """The discovery document at this path; None for a resource path."""
        served = self.server.served
        if parts == ["version"]:
            return discovery.version_info(self.server.version)
        if parts == ["api"]:
            host, port = self.server.server_address[:2]
            return discovery.core_versions(f"{host}:{port}")
        if parts == ["apis"]:
            return discovery.group_list(served)
        if len(parts) in (2, 3) and parts[0] in ("api", "apis"):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2] if len(parts) == 3 else "")
            found = discovery.resource_list(served, group, version) if version else discovery.group(served, group)
            if found is None:
                raise not_served()
            return found
        return None

    def _route(self, parts: list[str], query: dict[str, str]) -> Route:
        """/api/v1/... or /apis/GROUP/VERSION/..., then namespaces/NS/PLURAL[/NAME] or PLURAL (every namespace)."""
        if len(parts) < 3 or parts[0] not in ("api", "apis"):
            raise not_served()
        group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
        if len(rest) in (3, 4) and rest[0] == "namespaces":
            namespace, plural, name = rest[1], rest[2], rest[3] if len(rest) == 4 else ""
        elif len(rest) == 1:
            namespace, plural, name = "", rest[0], ""
        else:
            raise not_served()
        kind = self.server.served.kind(group, version, plural)
        if kind is None:
            raise not_served()
        return Route(kind, f"{group}/{version}" if group else version, namespace, name, query)

    def _body(self, yaml_too: bool = False) -> Obj:
        data = self._raw or b"{}"
        try:
            return yaml.safe_load(data) if yaml_too else json.loads(data)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise bad_request(f"error decoding {'YAML' if yaml_too else 'JSON'}: {exc}") from None

    def _write(self, route: Route, options: str) -> Write:
        """The write's options: the field manager, else the User-Agent's product name, as the real server names it."""
        manager = route.query.get("fieldManager") or self.headers.get("User-Agent", "").split("/")[0][:128]
        return Write(route.api_version, manager, _dry_run(route.query.get("dryRun"), options))

    def _checked_body(self, route: Route) -> Obj:
        body = self._body()
        if isinstance(body, dict) and body.get("apiVersion") not in (None, route.api_version):
            raise bad_request(f"the API version in the data ({body['apiVersion']}) does not match the expected API "
                              f"version ({route.api_version})")
        return body

    def _dispatch(self, method: str, route: Route) -> tuple[int, Obj | None]:
        store, kind = self.server.store, route.kind
        if not route.name and method == "GET":
            return self._collection(route)
        if not route.namespace:
            raise ApiError(405, "MethodNotAllowed", f"{method} across namespaces is not supported by the fake")
        if not route.name and method == "POST":
            write = self._write(route, "CreateOptions")
            created = store.create(kind, route.namespace, self._checked_body(route), write)
            return 201, _stamp(created, kind, route.api_version)
        if not route.name:
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection is not supported by the fake")
        if method == "GET":
            return 200, _stamp(store.get(kind, route.namespace, route.name), kind, route.api_version)
        if method == "PUT":
            replaced = store.replace(kind, route.namespace, route.name, self._checked_body(route),
                                     self._write(route, "UpdateOptions"))
            return 200, _stamp(replaced, kind, route.api_version)
        if method == "PATCH":
            return self._patch(route)
        if method == "DELETE":
            return self._delete(route)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported by the fake")

    def _collection(self, route: Route) -> tuple[int, Obj | None]:
        kind, query = route.kind, route.query
        labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")
        if query.get("watch") in _TRUE:
            request = WatchRequest(kind, route.namespace, labels, fields, query.get("resourceVersion", ""),
                                   float(query.get("timeoutSeconds") or 1800),
                                   query.get("allowWatchBookmarks") in _TRUE)
            self._stream(route, request)
            return 200, None
        store = self.server.store
        with store.lock:
            items, rv = store.list(kind, route.namespace, labels, fields), store.rv
        listed = [_stamp(i, kind, route.api_version) if kind.custom else  # typed lists carry no kind in their items
                  {k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in items]
        return 200, {"apiVersion": route.api_version, "kind": f"{kind.kind}List",
                     "metadata": {"resourceVersion": str(rv)}, "items": listed}

    def _patch(self, route: Route) -> tuple[int, Obj]:
        kind, query = route.kind, route.query
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        accepted = CUSTOM_TYPES if kind.custom else BUILT_IN_TYPES
        if content_type not in accepted:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types include: " + ", ".join(accepted))
        if content_type == JSON_PATCH:
            raise ApiError(415, "UnsupportedMediaType", f"the fake Kubernetes API does not implement {JSON_PATCH} "
                                                        "(a real server does)")
        errors = []
        if content_type == APPLY and not query.get("fieldManager"):
            errors.append(FieldError("fieldManager", "Required value", "is required for apply patch"))
        if content_type != APPLY and "force" in query:
            errors.append(FieldError("force", "Forbidden", "may not be specified for non-apply patch"))
        if errors:
            raise _options_invalid("PatchOptions", errors)
        write, store = self._write(route, "PatchOptions"), self.server.store
        if content_type == APPLY:
            config = self._body(yaml_too=True)
            if not isinstance(config, dict):
                raise bad_request("error decoding YAML: the configuration is not an object")
            force = query.get("force") in _TRUE
            applied, created = store.apply(kind, route.namespace, route.name, config, write, force)
            return 201 if created else 200, _stamp(applied, kind, route.api_version)
        patched = store.patch(kind, route.namespace, route.name, self._body(), content_type, write)
        return 200, _stamp(patched, kind, route.api_version)

    def _delete(self, route: Route) -> tuple[int, Obj]:
        """DeleteOptions from the query, then the body (which wins); the object, or a Status, as the registry does."""
        kind = route.kind
        options = {k: v for k, v in route.query.items() if k in ("propagationPolicy", "dryRun")}
        body = self._body()
        options |= {k: v for k, v in (body if isinstance(body, dict) else {}).items() if v is not None}
        policy = options.get("propagationPolicy") or "Background"
        if policy not in _PROPAGATION:
            raise _options_invalid("DeleteOptions", [FieldError(
                "propagationPolicy", "Unsupported value",
                'supported values: "Foreground", "Background", "Orphan", "nil"', quote(policy))])
        obj, gone = self.server.store.delete(kind, route.namespace, route.name, propagation=policy,
                                             dry_run=_dry_run(options.get("dryRun"), "DeleteOptions"),
                                             preconditions=options.get("preconditions"))
        if not gone or kind.returns_deleted:
            return 200, _stamp(obj, kind, route.api_version)
        found = {"name": route.name, "group": kind.group, "kind": kind.plural, "uid": obj["metadata"]["uid"]}
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": {k: v for k, v in found.items() if v}}

    def _stream(self, route: Route, request: WatchRequest) -> None:
        """A watch: one JSON event per line in a chunked response, until it ends."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event_type, obj in stream(self.server.store, request, self.server.bookmark_interval):
                shown = obj if event_type == "ERROR" else _stamp(obj, route.kind, route.api_version)
                line = json.dumps({"type": event_type, "object": shown}).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
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


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: Store, served: ServedApis, version: tuple[int, int, int],
                 bookmark_interval: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store, self.served, self.version, self.bookmark_interval = store, served, version, bookmark_interval
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
