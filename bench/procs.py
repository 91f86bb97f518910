"""Child processes of the serving benchmark: servers in their own sessions, stopped whatever happens,
their CPU time, and the failure that ends a run with a message."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
LOG_TAIL_LINES = 30
# Environment shared by all servers: one BLAS thread each, unbuffered logs.
SERVER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
# Variables that would tune a server behind the benchmark's back: kanri reads every KANRI_* as a flag.
TUNING_PREFIXES = ("KANRI_", "OTEL_")


class BenchError(RuntimeError):
    """A failure that ends the run with a clear message (no traceback)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Proc:
    """A child process in its own session, its output going to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if still there after 5 s."""
        if self.popen.poll() is None:
            signal_group(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        signal_group(self.popen.pid, signal.SIGKILL)  # stragglers of the group too
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def spawn(
    stack: contextlib.ExitStack,
    name: str,
    cmd: list[str],
    log_path: Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Proc:
    """Start cmd in a new session; the stack stops it (whole group) on exit."""
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = Proc(name, popen, log_path)
    stack.callback(proc.stop)
    return proc


def server_env(drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment plus SERVER_ENV, without the names in drop nor any tuning variable."""
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(TUNING_PREFIXES)}
    env.update(SERVER_ENV)
    return env


def split_cpus() -> tuple[str | None, str | None]:
    """One CPU for the server under test, another for h2load; none if that is impossible."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        log("--pin needs two CPUs and taskset; running unpinned")
        return None, None
    return str(cpus[0]), str(cpus[1])


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """The command prefixed with `taskset -c CPUS` when pinning."""
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


def _group_stats(pgid: int) -> dict[int, list[str]]:
    """/proc/PID/stat of the live processes in a process group, by pid, fields from 3 (state) on (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields[0] is field 3 (state); pgrp is field 5
                found[int(stat.parent.name)] = fields
    return found


def group_pids(pgid: int) -> set[int]:
    return set(_group_stats(pgid))


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes in a process group."""
    total = sum(int(fields[11]) + int(fields[12]) for fields in _group_stats(pgid).values())  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU seconds of the reaped children of this process (h2load runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raise_on_signal(signum: int, frame: Any) -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every child is stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


def run_bench(run: Callable[[], int], stopped: str) -> int:
    """A benchmark's exit status: run's own (0, or 1 when a goal of correctness failed), 2 on a BenchError,
    130 when interrupted (SIGTERM and SIGHUP too) after its processes were stopped (`stopped` says which)."""
    signal.signal(signal.SIGTERM, raise_on_signal)
    signal.signal(signal.SIGHUP, raise_on_signal)
    try:
        return run()
    except BenchError as err:
        log(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        log(f"interrupted; {stopped}")
        return 130
