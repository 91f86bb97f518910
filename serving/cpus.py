"""How many CPUs this process may use: the default of `kanri serve --workers`.

The CPUs it may be scheduled on (its affinity: taskset, a cpuset) bounded by
a CPU bandwidth limit where one is set (a container's CPU limit: cgroup v2's
cpu.max, or v1's cpu.cfs_quota_us, along the process's cgroup and its
parents). A fractional limit rounds down: a worker beyond the limit would
have the kernel throttle the whole group for the rest of each period, which
shows as tail latency, not as throughput.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """At least 1: the affinity's CPU count, bounded by the CPU limit rounded down."""
    cpus = len(os.sched_getaffinity(0))
    limit = cpu_limit(root, proc_cgroup)
    if limit is not None:
        cpus = min(cpus, math.floor(limit))
    return max(1, cpus)


def cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The tightest CPU bandwidth limit over the process's cgroups, in CPUs; None where none is set."""
    try:
        paths = _cgroup_paths(proc_cgroup.read_text())
    except OSError:
        paths = {}
    limits = [limit
              for mount, controller, read in ((root, "", _cpu_max), (root / "cpu", "cpu", _cfs_quota))
              for folder in _up(mount, paths.get(controller, "/"))
              if (limit := _limit(read, folder)) is not None]
    return min(limits, default=None)


def _cgroup_paths(text: str) -> dict[str, str]:
    """Controller name → the process's cgroup path; "" names cgroup v2's unified hierarchy."""
    paths = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _up(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder under mount and its parents up to mount. Inside a container the path
    can name a host folder that is not there: the container's own cgroup is then the mount itself."""
    folder = mount / path.strip("/")
    if not folder.is_dir():
        return [mount]
    return [folder, *(p for p in folder.parents if p.is_relative_to(mount))]


def _limit(read: Callable[[Path], float | None], folder: Path) -> float | None:
    try:
        return read(folder)
    except (OSError, ValueError):  # no such file here (no limit at this level), or one not understood
        return None


def _cpu_max(folder: Path) -> float | None:
    """cgroup v2: "max 100000" (none) or "QUOTA PERIOD" in microseconds."""
    quota, period = (folder / "cpu.max").read_text().split()
    return None if quota == "max" else int(quota) / int(period)


def _cfs_quota(folder: Path) -> float | None:
    """cgroup v1: cpu.cfs_quota_us is -1 when there is no limit."""
    quota = int((folder / "cpu.cfs_quota_us").read_text())
    return None if quota <= 0 else quota / int((folder / "cpu.cfs_period_us").read_text())
