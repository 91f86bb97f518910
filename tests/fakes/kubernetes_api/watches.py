"""Watch streams as the real server sends them: initial ADDED events, changes, bookmarks, 410 for lost history.

resourceVersion "" and "0" both start with an ADDED event for every object
that exists; a number resumes after it, from the kind's event history, or is
answered with one ERROR event (410 Expired) when that history is gone. With
allowWatchBookmarks, a BOOKMARK carries the resourceVersion reached every
`bookmark_interval` seconds (a minute on a real server) and once more as the
watch ends at timeoutSeconds (the real one sends it 2 s before).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from .resources import ApiError, Kind, Obj, bad_request
from .selectors import field_selector, label_selector
from .store import Store

_TOO_LARGE_WAIT = 3.0  # how long the real watch cache waits for a resourceVersion it has not reached yet


@dataclass(frozen=True)
class WatchRequest:
    kind: Kind
    namespace: str  # "" for every namespace
    labels: str
    fields: str
    since: str  # the resourceVersion query parameter
    timeout: float
    bookmarks: bool


def _bookmark(rv: int) -> tuple[str, Obj]:
    return "BOOKMARK", {"metadata": {"resourceVersion": str(rv)}}


def _error(error: ApiError) -> tuple[str, Obj]:
    return "ERROR", error.status()


def _start(store: Store, request: WatchRequest) -> tuple[list[tuple[str, Obj]], int] | ApiError:
    """The initial events and the resourceVersion to follow from, or the error the watch answers with."""
    if request.since in ("", "0"):
        return [("ADDED", obj) for obj in store.list(request.kind, request.namespace, request.labels,
                                                       request.fields)], store.rv
    if not request.since.isdigit():
        return bad_request(f'invalid resource version "{request.since}"')
    since = int(request.since)
    if since < store.floor(request.kind):
        return ApiError(410, "Expired", f"too old resource version: {since} ({store.floor(request.kind)})")
    deadline = time.monotonic() + _TOO_LARGE_WAIT
    while since > store.rv and not store.closed and time.monotonic() < deadline:
        store.changed.wait(deadline - time.monotonic())
    if since > store.rv:
        return ApiError(504, "Timeout", f"Timeout: Too large resource version: {since}, current: {store.rv}",
                        {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                         "retryAfterSeconds": 1})
    return [], since


def stream(store: Store, request: WatchRequest, bookmark_interval: float) -> Iterator[tuple[str, Obj]]:
    """(event type, object) until timeoutSeconds, the store's close, or the history the watch needs is dropped."""
    matches_labels, matches_fields = label_selector(request.labels), field_selector(request.fields)

    def matches(obj: Obj) -> bool:
        meta = obj["metadata"]
        return (request.namespace in ("", meta["namespace"]) and matches_labels(meta.get("labels", {}))
                and matches_fields(obj))

    now = time.monotonic()
    deadline, next_bookmark = now + request.timeout, now + bookmark_interval
    with store.lock:
        started = _start(store, request)
    if isinstance(started, ApiError):
        yield _error(started)
        return
    initial, cursor = started
    yield from initial
    while True:
        until = min(deadline, next_bookmark) if request.bookmarks else deadline
        with store.lock:
            while not store.events_after(request.kind, cursor) and not store.closed and time.monotonic() < until:
                store.changed.wait(until - time.monotonic())
            if store.closed or store.floor(request.kind) > cursor:  # history dropped: resuming will say 410
                return
            pending, cursor = store.events_after(request.kind, cursor), store.rv
        yield from ((event.type, event.obj) for event in pending if matches(event.obj))
        now = time.monotonic()
        if now >= deadline:
            if request.bookmarks:
                yield _bookmark(cursor)
            return
        if request.bookmarks and now >= next_bookmark:
            yield _bookmark(cursor)
            next_bookmark = now + bookmark_interval
