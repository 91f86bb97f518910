"""A local copy of one kind's objects, kept current by a watch instead of polling the API server.

As client-go's reflector does: list once, then watch from the list's
resourceVersion; each event updates the copy, bookmarks move the
resourceVersion on while nothing changes, a watch that ends (the server ends
them every few minutes) resumes from the last resourceVersion seen, and only a
410 Gone (the server no longer holds history that old) costs a new list. A
console over many services then asks the API server for nothing while nothing
changes, and hears of a change at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..base import ClusterError
from .connection import Cluster
from .kinds import Kind

WATCH_SECONDS = 300  # how long one watch request lasts; the server caps it anyway
RETRY_SECONDS = 2.0  # after a failed list or watch (the API server away), before trying again


class Reflector:
    """The objects of `kind` in `namespace` matching `selector`, by name, current within a watch event."""

    def __init__(self, cluster: Cluster, kind: Kind, namespace: str, selector: str,
                 on_change: Callable[[], None] | None = None, watch_seconds: float = WATCH_SECONDS) -> None:
        self.cluster, self.kind, self.namespace, self.selector = cluster, kind, namespace, selector
        self.watch_seconds = watch_seconds
        self._on_change = on_change or (lambda: None)
        self._objects: dict[str, dict] = {}
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._error = ""
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"watch {kind.kind} {cluster.name}/{namespace}")

    def start(self) -> Reflector:
        self._thread.start()
        return self

    def stop(self) -> None:
        """The thread ends when its watch request does (within WATCH_SECONDS); nothing is delivered after this."""
        self._stopped.set()

    def objects(self, timeout: float) -> list[dict]:
        """The current copy; waits up to `timeout` for the first list, and says why when the cluster is away."""
        if not self._synced.wait(timeout):
            raise ClusterError(self._error or f"cluster {self.cluster.name}: no answer listing {self.kind.api.many} "
                                              f"in namespace {self.namespace} within {timeout:g} s")
        with self._lock:
            if self._error:
                raise ClusterError(self._error)
            return list(self._objects.values())

    def _run(self) -> None:
        version = ""
        while not self._stopped.is_set():
            try:
                if version:
                    version = self._follow(version)
                elif not (version := self._relist()):
                    self._stopped.wait()  # a kind this cluster does not serve (an add-on's): nothing to watch
            except ClusterError as exc:  # said until a new list succeeds
                version = ""
                with self._lock:
                    self._error = str(exc)
                self._synced.set()
                self._on_change()
                self._stopped.wait(RETRY_SECONDS)

    def _relist(self) -> str:
        items, version = self.kind.list_at(self.cluster, self.namespace, self.selector)
        with self._lock:
            self._objects = {o["metadata"]["name"]: o for o in items}
            self._error = ""
        self._synced.set()
        self._on_change()
        return version

    def _follow(self, version: str) -> str:
        """Watch from `version`; the resourceVersion to resume from, or "" to list again (410 Gone)."""
        for event in self.kind.watch(self.cluster, self.namespace, self.selector, version, self.watch_seconds):
            if self._stopped.is_set():
                return version
            kind, obj = event.get("type"), event.get("object", {})
            if kind == "ERROR":
                if obj.get("code") == 410:
                    return ""
                raise ClusterError(f"cluster {self.cluster.name}: watching {self.kind.api.many} failed: "
                                   f"{obj.get('message', obj)}")
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self._objects.pop(obj["metadata"]["name"], None)
                else:
                    self._objects[obj["metadata"]["name"]] = obj
            self._on_change()
        return version
