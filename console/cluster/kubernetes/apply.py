"""A change of several objects, written so that a failure leaves a consistent state and says what it left.

Every object is first checked by the API server itself (a server-side dry run
of the very apply, and of every delete), on every cluster, before anything is
written: a refusal (an invalid field, an API the cluster does not serve, a
missing permission, an object kanri does not own) changes nothing anywhere.
Then the writes go in the order given, the one that starts pods (the
Deployment) last; should one still fail (the API server going away midway),
the error names what was applied and what was not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..base import ClusterError
from . import labels
from .connection import Cluster
from .kinds import Kind

BACKOFF_SECONDS = (0.1, 0.3, 1.0, 3.0)  # a conflict (409) is retried after each of these


@dataclass(frozen=True)
class Write:
    """One object to apply, or (delete=True) to delete, on one cluster."""

    cluster: Cluster
    kind: Kind
    obj: dict
    delete: bool = False

    @property
    def what(self) -> str:
        meta = self.obj["metadata"]
        return f"{'deleted ' if self.delete else ''}{self.kind.kind} {meta['namespace']}/{meta['name']}"


def change(writes: list[Write], prepare: Callable[[Write, dict | None], dict] | None = None) -> None:
    """Check every write with the API server, then make them in order. `prepare(write, live)` may complete an
    object from the live one it replaces (the replicas an HPA owns) before it is checked."""
    try:
        ready = [checked for write in writes if (checked := _checked(write, prepare))]
    except ClusterError as exc:
        raise ClusterError(f"{exc} (nothing was changed on any cluster)") from None
    done: list[str] = []
    for write in ready:
        try:
            _write(write)
        except ClusterError as exc:
            left = [w.what for w in ready[len(done) + 1:]]
            raise ClusterError(f"{exc}; the change is incomplete on cluster {write.cluster.name}: applied "
                               f"{', '.join(done) or 'nothing'}; not applied: {write.what}"
                               + (f", {', '.join(left)}" if left else "")
                               + "; run the same command again to finish it") from None
        done.append(write.what)


def _checked(write: Write, prepare: Callable[[Write, dict | None], dict] | None) -> Write | None:
    """The write as it will be made, once the API server accepted it in a dry run; None when there is nothing
    to do (deleting what does not exist, or what kanri did not make)."""
    meta, cluster = write.obj["metadata"], write.cluster
    live = write.kind.read(cluster, meta["namespace"], meta["name"])
    if live is not None and live["metadata"].get("labels", {}).get(labels.MANAGED_BY) != "kanri":
        if write.delete:  # kanri removes only what it made: someone's own policy or scaler of that name stays
            return None
        raise ClusterError(f"cluster {cluster.name}: {write.kind.kind} {meta['namespace']}/{meta['name']} exists and "
                           "is not managed by kanri; delete or rename it, or choose another service name")
    if write.delete:
        if live is None:
            return None
        write.kind.delete(cluster, meta["namespace"], meta["name"], dry_run=True)
        return write
    write = Write(cluster, write.kind, prepare(write, live) if prepare else write.obj)
    _retrying(lambda: write.kind.apply(cluster, write.obj, dry_run=True), write)
    return write


def _write(write: Write) -> None:
    meta = write.obj["metadata"]
    if write.delete:
        write.kind.delete(write.cluster, meta["namespace"], meta["name"])
    else:
        _retrying(lambda: write.kind.apply(write.cluster, write.obj), write)


def _retrying(attempt: Callable[[], dict | None], write: Write) -> None:
    """Server-side apply conflicts only when the object changes under the request; wait and try again."""
    for pause in (*BACKOFF_SECONDS, None):
        if attempt() is not None:
            return
        if pause is None:
            break
        time.sleep(pause)
    raise ClusterError(f"cluster {write.cluster.name}: {write.what} kept changing while kanri wrote it "
                       f"({len(BACKOFF_SECONDS) + 1} attempts over {sum(BACKOFF_SECONDS):g} s); another controller "
                       "or person is writing it: try again, or find who with kubectl get -o yaml --show-managed-fields")
