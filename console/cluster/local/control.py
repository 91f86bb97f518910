"""Starting, finding and stopping the supervisor process (for `kanri local` and LocalBackend)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import psutil

from ..base import ClusterError
from .files import read_json
from .paths import LocalPaths
from .processes import ProcessHandle
from .settings import SupervisorSettings
from .state import Observed

SUPERVISOR_MODULE = "kanri.console.cluster.local.supervisor"


def running_supervisor(paths: LocalPaths) -> ProcessHandle | None:
    """The supervisor of this home if it runs (its pid file names a live process that is ours)."""
    recorded = read_json(paths.supervisor_pid, None)
    if not recorded:
        return None
    return ProcessHandle.adopt(recorded["pid"], recorded["create_time"], f"{SUPERVISOR_MODULE} --home {paths.home}")


def start_supervisor(paths: LocalPaths, settings: SupervisorSettings | None = None, timeout: float = 15.0) -> int:
    """Start the supervisor unless it runs; returns its pid once it holds its lock and wrote its pid file."""
    if handle := running_supervisor(paths):
        return handle.pid
    env = {**os.environ, **(settings.to_env() if settings else {})}
    spawned = ProcessHandle.spawn([sys.executable, "-m", SUPERVISOR_MODULE, "--home", str(paths.home)],
                                  paths.supervisor_log, env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handle := running_supervisor(paths):
            return handle.pid  # ours, or one another console started at the same moment
        if not spawned.alive() and not running_supervisor(paths):
            break
        time.sleep(0.05)
    spawned.signal(signal.SIGKILL)
    raise ClusterError(f"the local supervisor did not start ({spawned.exit_description()}); "
                       f"see {paths.supervisor_log}")


def stop_supervisor(paths: LocalPaths, keep_serving: bool = False, timeout: float = 60.0) -> bool:
    """Stop the supervisor (and, unless keep_serving, every replica and router); False if none ran."""
    handle = running_supervisor(paths)
    if handle is None:
        return False
    handle.signal(signal.SIGUSR1 if keep_serving else signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while handle.alive():
        if time.monotonic() > deadline:
            raise ClusterError(f"the local supervisor (pid {handle.pid}) did not stop within {timeout:.0f}s; "
                               f"see {paths.supervisor_log}")
        time.sleep(0.05)
    return True


def recorded_processes(paths: LocalPaths) -> tuple[list[ProcessHandle], list[ProcessHandle]]:
    """The replicas and the routers the supervisor last recorded that still run, with or without it."""
    observed = Observed.load(paths.observed)
    replicas = [ProcessHandle.adopt(p.pid, p.create_time, "") for s in observed.services.values() for p in s.pods]
    routers = [ProcessHandle.adopt(p.pid, p.create_time, "") for r in observed.routers.values() for p in r.processes]
    return [h for h in replicas if h is not None], [h for h in routers if h is not None]


def processes_naming(home: Path) -> list[psutil.Process]:
    """Every process but this one with the home folder on its command line: what a cluster in home still runs
    (supervisor, routers, replicas), recorded or not."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if process.pid != os.getpid() and str(home) in " ".join(process.info["cmdline"] or ()):
                found.append(process)
    return found


def kill_leftovers(paths: LocalPaths) -> int:
    """The safety net once the supervisor was asked to stop: SIGKILL the replicas and routers it recorded and
    whatever else still runs with the home folder on its command line; how many were found."""
    replicas, routers = recorded_processes(paths)
    for handle in replicas + routers:
        handle.signal(signal.SIGKILL)
    left = processes_naming(paths.home)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    return len(replicas) + len(routers) + len(left)
