"""The fake's storage: objects, one resourceVersion sequence, the write paths and each kind's event history.

Every write goes the way it goes on the real server: admission (what this
version prunes, defaults, validation), managedFields, then storage, unless it
is a dry run, which answers the same and stores nothing: no resourceVersion,
no event. Each kind keeps a bounded history of events for watches to resume
from; what fell out of it (or was dropped by compact()) is "too old".
"""

from __future__ import annotations

import bisect
import copy
import threading
import uuid
from dataclasses import dataclass

from . import defaults, managed, schema, validation
from .patches import PATCHES
from .resources import DEPLOYMENTS, PDBS, ApiError, Kind, Obj, bad_request, conflict, not_found, now_rfc3339
from .selectors import field_selector, label_selector

_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"
_TRACKS_GENERATION = {DEPLOYMENTS, PDBS}  # and every custom kind; pods, Services and HPAs carry none


def _content(obj: Obj) -> Obj:
    """What a generation counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


@dataclass(frozen=True)
class Event:
    rv: int
    type: str
    obj: Obj


@dataclass(frozen=True)
class Write:
    """Who writes, through which group/version, and whether for real."""

    api_version: str
    manager: str
    dry_run: bool = False


class Store:
    """Objects by (kind, namespace, name) with one resourceVersion sequence and each kind's event history."""

    def __init__(self, minor: int, history: int = 1000) -> None:
        self.minor = minor  # the Kubernetes 1.x minor version whose behaviour the writes follow
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[tuple[Kind, str, str], Obj] = {}
        self.rv = 0
        self.closed = False
        self.orphaned: set[str] = set()  # uids deleted with propagationPolicy=Orphan: their dependents stay
        self._history = history
        self._events: dict[Kind, list[Event]] = {}
        self._floors: dict[Kind, int] = {}
        self._compacted_at = 0

    # Reading.

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            if obj is None:
                raise not_found(kind, name)
            return copy.deepcopy(obj)

    def list(self, kind: Kind, namespace: str, labels: str = "", fields: str = "") -> list[Obj]:
        """Objects of a kind in a namespace ("": in all), ordered by namespace and name."""
        matches_labels, matches_fields = label_selector(labels), field_selector(fields)
        with self.lock:
            return [copy.deepcopy(obj) for (k, ns, _), obj in sorted(self.objects.items(), key=lambda i: i[0][1:])
                    if k is kind and namespace in ("", ns) and matches_labels(obj["metadata"].get("labels", {}))
                    and matches_fields(obj)]

    def floor(self, kind: Kind) -> int:
        """The resourceVersion a watch of this kind must start after at least: older history is gone."""
        return max(self._floors.get(kind, 0), self._compacted_at)

    def events_after(self, kind: Kind, rv: int) -> list[Event]:
        events = self._events.get(kind, [])
        return events[bisect.bisect_right(events, rv, key=lambda e: e.rv):]

    def compact(self) -> None:
        """Forget every kind's history, as etcd compaction and a restarted watch cache do."""
        with self.lock:
            self._events.clear()
            self._compacted_at = self.rv

    # Writing.

    def _commit(self, kind: Kind, event_type: str, obj: Obj, dry_run: bool) -> Obj:
        if dry_run:
            return copy.deepcopy(obj)
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event_type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        events = self._events.setdefault(kind, [])
        events.append(Event(self.rv, event_type, copy.deepcopy(obj)))
        if len(events) > self._history:
            self._floors[kind] = events.pop(0).rv
        self.changed.notify_all()
        return copy.deepcopy(obj)

    def _admit(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        """What the server does to every object written: prune what it does not take, default, validate."""
        schema.prune(kind, obj, self.minor)
        defaults.default(kind, obj, old, self.minor)
        validation.validate(kind, obj, old, self.minor)

    def _insert(self, kind: Kind, namespace: str, obj: Obj, write: Write, record: bool) -> Obj:
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                              "request")
        if meta.get("resourceVersion"):
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        self._admit(kind, obj, None)
        with self.lock:
            if (kind, namespace, meta["name"]) in self.objects:
                raise ApiError(409, "AlreadyExists", f'{kind.resource} "{meta["name"]}" already exists',
                               {"name": meta["name"], "group": kind.group, "kind": kind.plural})
            meta.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339())
            if kind in _TRACKS_GENERATION or kind.custom:
                meta["generation"] = 1
            obj.pop("status", None)  # what a client sends is not taken on create
            if (status := defaults.initial_status(kind, obj)) is not None:
                obj["status"] = status
            if record:
                managed.update(None, obj, kind, write.manager, write.api_version)
            return self._commit(kind, "ADDED", obj, write.dry_run)

    def _update(self, kind: Kind, old: Obj, obj: Obj, write: Write, record: bool) -> Obj:
        """An update of the live object `old`: a stale resourceVersion is a 409; status is kept."""
        meta, name = obj.setdefault("metadata", {}), old["metadata"]["name"]
        if kind.custom and not meta.get("resourceVersion"):
            raise validation.invalid(kind.qualified, name, [validation.FieldError(
                "metadata.resourceVersion", "Invalid value", "must be specified for an update", "0x0")])
        if meta.get("resourceVersion") not in (None, "", old["metadata"]["resourceVersion"]):
            raise conflict(kind, name, _MODIFIED)
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)
        self._admit(kind, obj, old)
        for immutable in ("uid", "creationTimestamp", "namespace", "generation", "deletionTimestamp"):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
        if "generation" in meta and _content(obj) != _content(old):
            meta["generation"] += 1
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if record:
            managed.update(old, obj, kind, write.manager, write.api_version)
        if obj == old:  # a no-op write stores nothing and bumps nothing, as on the real server
            return old
        return self._commit(kind, "MODIFIED", obj, write.dry_run)

    def create(self, kind: Kind, namespace: str, obj: Obj, write: Write) -> Obj:
        return self._insert(kind, namespace, copy.deepcopy(obj), write, record=True)

    def replace(self, kind: Kind, namespace: str, name: str, obj: Obj, write: Write) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if meta.setdefault("name", name) != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        with self.lock:
            return self._update(kind, self.get(kind, namespace, name), obj, write, record=True)

    def patch(self, kind: Kind, namespace: str, name: str, patch: Obj, content_type: str, write: Write) -> Obj:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        with self.lock:
            old = self.get(kind, namespace, name)
            return self._update(kind, old, PATCHES[content_type](copy.deepcopy(old), patch), write, record=True)

    def apply(self, kind: Kind, namespace: str, name: str, config: Obj, write: Write, force: bool) -> tuple[Obj, bool]:
        """Server-side apply: (the object, whether it was created)."""
        _check_applied(kind, config, write.api_version, self.minor)
        meta = config.setdefault("metadata", {})
        if meta.setdefault("name", name) != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        with self.lock:
            live = self.objects.get((kind, namespace, name))
            merged = managed.apply(live, config, kind, write.manager, write.api_version, force)
            if live is None:
                return self._insert(kind, namespace, merged, write, record=False), True
            return self._update(kind, copy.deepcopy(live), merged, write, record=False), False

    def update_status(self, kind: Kind, namespace: str, name: str, status: Obj) -> None:
        """A controller's status write: no admission, no managedFields entry; nothing when nothing changed."""
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            if obj is None:
                raise not_found(kind, name)
            if obj.get("status") != status:
                self._commit(kind, "MODIFIED", {**copy.deepcopy(obj), "status": copy.deepcopy(status)}, dry_run=False)

    def delete(self, kind: Kind, namespace: str, name: str, *, dry_run: bool = False,
               propagation: str = "Background", preconditions: Obj | None = None) -> tuple[Obj, bool]:
        """(the object, whether it is gone): foreground deletion only marks it, for the garbage collector."""
        with self.lock:
            obj = self.get(kind, namespace, name)
            _check_preconditions(kind, obj, preconditions or {})
            meta = obj["metadata"]
            if propagation == "Foreground" or meta.get("deletionTimestamp"):
                if not meta.get("deletionTimestamp"):
                    meta.update(deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0)
                    meta["finalizers"] = [*meta.get("finalizers", []), "foregroundDeletion"]
                    obj = self._commit(kind, "MODIFIED", obj, dry_run)
                return obj, False
            if propagation == "Orphan" and not dry_run:
                self.orphaned.add(meta["uid"])
            return self._commit(kind, "DELETED", obj, dry_run), True

    def finish_deletion(self, kind: Kind, namespace: str, name: str) -> None:
        """The garbage collector's last step of a foreground deletion, once the dependents are gone."""
        with self.lock:
            obj = self.get(kind, namespace, name)
            obj["metadata"]["finalizers"] = [f for f in obj["metadata"]["finalizers"] if f != "foregroundDeletion"]
            self._commit(kind, "DELETED", obj, dry_run=False)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()


def _check_applied(kind: Kind, config: Obj, api_version: str, minor: int) -> None:
    """What the real server checks of an applied configuration before merging it."""
    if config.get("apiVersion") != api_version:
        raise bad_request("Incorrect version specified in apply patch. Specified patch version: "
                          f"{config.get('apiVersion', '')}, expected: {api_version}")
    if (config.get("metadata") or {}).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    errors = [] if kind.custom else schema.typing_errors(kind, config, minor)
    if config.get("kind") != kind.kind:
        errors = [f"no corresponding type for {api_version}, Kind={config.get('kind', '')}"]
    if errors:  # a plain error on the real server: 500 without a reason
        listed = errors[0] if len(errors) == 1 else "errors:\n" + "\n".join(f"  {e}" for e in errors)
        raise ApiError(500, "", f"failed to create typed patch object: {listed}")


def _check_preconditions(kind: Kind, obj: Obj, preconditions: Obj) -> None:
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted, actual = preconditions.get(field), obj["metadata"].get(field)
        if wanted is not None and wanted != actual:
            raise conflict(kind, obj["metadata"]["name"], f"Precondition failed: {label} in precondition: {wanted}, "
                                                          f"{label} in object meta: {actual}")

