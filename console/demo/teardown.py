"""`kanri demo --down`: stop everything the demo runs and delete its home, however it was left."""

from __future__ import annotations

import shutil
from pathlib import Path

from console.cluster.local.control import running_supervisor, start_supervisor, stop_supervisor
from console.cluster.local.paths import LocalPaths
from console.cluster.local.processes import ProcessHandle
from console.cluster.local.state import Observed


def tear_down(home: Path) -> list[str]:
    """Returns one line per thing removed; none when there was no demo (running it twice is fine)."""
    paths = LocalPaths(home)
    removed = []
    replicas, routers = _still_running(paths)
    if (replicas or routers) and running_supervisor(paths) is None:
        # A new supervisor adopts what the last one left serving, so stopping it drains and stops them too.
        start_supervisor(paths)
    if stop_supervisor(paths):
        removed.append(f"stopped the demo's local cluster: its supervisor, {replicas} replica(s) and "
                       f"{routers} router(s)")
    if home.exists():
        shutil.rmtree(home)
        removed.append(f"deleted {home} (registry, models, logs)")
    return removed


def _still_running(paths: LocalPaths) -> tuple[int, int]:
    """How many of the replicas and routers the supervisor last recorded still run."""
    observed = Observed.load(paths.observed)
    replicas = sum(ProcessHandle.adopt(p.pid, p.create_time, "") is not None
                   for record in observed.services.values() for p in record.pods)
    routers = sum(ProcessHandle.adopt(r.pid, r.create_time, "") is not None for r in observed.routers.values())
    return replicas, routers
