"""`kanri demo --down`: stop everything the demo runs and delete its home, however it was left."""

from __future__ import annotations

import shutil
from pathlib import Path

from kanri.console.cluster.base import ClusterError
from kanri.console.cluster.local.control import (
    kill_leftovers,
    recorded_processes,
    running_supervisor,
    start_supervisor,
    stop_supervisor,
)
from kanri.console.cluster.local.paths import LocalPaths


def tear_down(home: Path) -> list[str]:
    """Returns one line per thing removed; none when there was no demo (running it twice is fine)."""
    paths = LocalPaths(home)
    removed = []
    replicas, routers = recorded_processes(paths)
    if (replicas or routers) and running_supervisor(paths) is None:
        # A new supervisor adopts what the last one left serving, so stopping it drains and stops them too. One that
        # cannot start (a supervisor kanri no longer recognises holds the lock) leaves them to the safety net below.
        try:
            start_supervisor(paths)
        except ClusterError as exc:
            removed.append(f"no supervisor could drain them ({exc}), so they are killed")
    if stop_supervisor(paths):
        removed.append(f"stopped the demo's local cluster: its supervisor, {len(replicas)} replica(s) and "
                       f"{len(routers)} router(s)")
    if left := kill_leftovers(paths):  # a supervisor that failed to stop them (it said why in its log)
        removed.append(f"killed {left} process(es) its supervisor had not stopped")
    if home.exists():
        shutil.rmtree(home)
        removed.append(f"deleted {home} (registry, models, logs)")
    return removed

