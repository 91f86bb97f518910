"""The fake's storage: objects, one resourceVersion sequence, validation, defaulting and watch events."""

from __future__ import annotations

import copy
import itertools
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from .patches import PATCHES
from .resources import DEPLOYMENTS, ApiError, Kind, Obj, now_rfc3339
from .selectors import field_selector, label_selector, selector_matches

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _validate(kind: Kind, obj: Obj) -> None:
    name = obj["metadata"].get("name", "")
    if not _NAME.match(name) or len(name) > 253:
        raise ApiError(422, "Invalid", f'{kind.kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                                       "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                       "characters, '-' or '.'")
    for key, value in obj["metadata"].get("labels", {}).items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            raise ApiError(422, "Invalid", f'{kind.kind} "{name}" is invalid: metadata.labels: '
                                           f'Invalid value: "{value}" for label {key}')
    if kind is DEPLOYMENTS:
        spec = obj.get("spec", {})
        labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
        if not spec.get("selector") or not selector_matches(spec["selector"], labels):
            raise ApiError(422, "Invalid", f'Deployment.apps "{name}" is invalid: spec.template.metadata.labels: '
                                           "Invalid value: `selector` does not match template `labels`")


def _default(kind: Kind, obj: Obj, old: Obj | None) -> None:
    """The defaulting and allocation the real server does for the fields clients rely on."""
    spec = obj.setdefault("spec", {})
    if kind is DEPLOYMENTS:
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("maxSurge", "25%")
            strategy["rollingUpdate"].setdefault("maxUnavailable", "25%")
    elif kind.kind == "Service":
        spec.setdefault("type", "ClusterIP")
        if not spec.get("clusterIP"):  # kept on update when left out, as the real server does
            spec["clusterIP"] = (old or {}).get("spec", {}).get("clusterIP") or _next_cluster_ip()
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


_allocated = itertools.count(1)


def _next_cluster_ip() -> str:
    n = next(_allocated)
    return f"10.96.{n // 250 % 250}.{n % 250 + 1}"


def _content(obj: Obj) -> Obj:
    """What a generation counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


@dataclass
class Event:
    rv: int
    kind: Kind
    type: str
    obj: Obj


class Store:
    """Objects by (kind, namespace, name) with one resourceVersion sequence and the event history watches read."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[tuple[Kind, str, str], Obj] = {}
        self.events: list[Event] = []
        self.rv = 0
        self.closed = False

    def _commit(self, kind: Kind, event_type: str, obj: Obj) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event_type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.events.append(Event(self.rv, kind, event_type, copy.deepcopy(obj)))
        self.changed.notify_all()
        return copy.deepcopy(obj)

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{kind.resource} "{name}" not found')
            return copy.deepcopy(obj)

    def list(self, kind: Kind, namespace: str, labels: str = "", fields: str = "") -> list[Obj]:
        matches_labels, matches_fields = label_selector(labels), field_selector(fields)
        with self.lock:
            return [copy.deepcopy(obj) for (k, ns, _), obj in sorted(self.objects.items(), key=lambda i: i[0][1:])
                    if k is kind and ns == namespace and matches_labels(obj["metadata"].get("labels", {}))
                    and matches_fields(obj)]

    def create(self, kind: Kind, namespace: str, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        _validate(kind, obj)
        _default(kind, obj, None)
        with self.lock:
            if (kind, namespace, meta["name"]) in self.objects:
                raise ApiError(409, "AlreadyExists", f'{kind.resource} "{meta["name"]}" already exists')
            meta.update(namespace=namespace, uid=str(uuid.uuid4()), generation=1,
                        creationTimestamp=now_rfc3339())
            meta.pop("resourceVersion", None)
            obj.setdefault("status", {})
            return self._commit(kind, "ADDED", obj)

    def replace(self, kind: Kind, namespace: str, name: str, obj: Obj, *, status: bool = False) -> Obj:
        """PUT semantics: a stale resourceVersion is a 409; status is kept unless this is a status write."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        meta["name"] = name
        with self.lock:
            old = self.get(kind, namespace, name)
            if meta.get("resourceVersion") not in (None, "", old["metadata"]["resourceVersion"]):
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind.resource} "{name}": the '
                                                "object has been modified; please apply your changes to the latest "
                                                "version and try again")
            if status:
                obj = {**old, "status": obj.get("status", {})}
            else:
                obj["status"] = old.get("status", {})
                _validate(kind, obj)
                _default(kind, obj, old)
                if kind is DEPLOYMENTS and obj["spec"]["selector"] != old["spec"]["selector"]:
                    raise ApiError(422, "Invalid", f'Deployment.apps "{name}" is invalid: spec.selector: Invalid '
                                                   "value: field is immutable")
            for immutable in ("uid", "creationTimestamp", "namespace", "generation"):
                obj["metadata"][immutable] = old["metadata"][immutable]
            if _content(obj) != _content(old):
                obj["metadata"]["generation"] += 1
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if obj == old:  # a no-op write stores nothing and bumps nothing, as on the real server
                return old
            return self._commit(kind, "MODIFIED", obj)

    def patch(self, kind: Kind, namespace: str, name: str, patch: Obj, content_type: str) -> Obj:
        apply = PATCHES.get(content_type)
        if apply is None:
            raise ApiError(415, "UnsupportedMediaType", f"the fake supports {', '.join(PATCHES)}; got {content_type}")
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        with self.lock:
            return self.replace(kind, namespace, name, apply(self.get(kind, namespace, name), patch))

    def delete(self, kind: Kind, namespace: str, name: str) -> Obj:
        with self.lock:
            return self._commit(kind, "DELETED", self.get(kind, namespace, name))

    def watch(self, kind: Kind, namespace: str, labels: str, fields: str, since: str,
              timeout: float) -> Iterator[Obj]:
        """Events as the real server streams them: without a resourceVersion, first ADDED for what exists."""
        matches_labels, matches_fields = label_selector(labels), field_selector(fields)
        deadline = time.monotonic() + timeout
        with self.lock:
            if since in ("", "0"):
                pending = [Event(self.rv, kind, "ADDED", obj) for obj in self.list(kind, namespace)]
                cursor = len(self.events)
            else:
                pending, cursor = [], next((i for i, e in enumerate(self.events) if e.rv > int(since)),
                                           len(self.events))
        while True:
            for event in pending:
                if (event.kind is kind and event.obj["metadata"]["namespace"] == namespace
                        and matches_labels(event.obj["metadata"].get("labels", {})) and matches_fields(event.obj)):
                    yield {"type": event.type, "object": event.obj}
            with self.lock:
                while cursor == len(self.events) and not self.closed and time.monotonic() < deadline:
                    self.changed.wait(deadline - time.monotonic())
                if self.closed or cursor == len(self.events):
                    return
                pending, cursor = self.events[cursor:], len(self.events)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()
