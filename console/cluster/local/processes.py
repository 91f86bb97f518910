"""Detached child processes that outlive the supervisor, and finding them again after it restarts.

A pid alone is not an identity (pids are reused), so a handle also keeps the
process' start time and a marker its command line must contain. The start time
is one no change of the wall clock moves (`start_time`): every `kanri` command
and every supervisor compare it with what another process recorded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def start_time(pid: int) -> float:
    """When the process started. On Linux: seconds since boot, from /proc. psutil's create_time adds the boot time,
    which the kernel derives from the wall clock, so an NTP step moves it, differently in every process that read
    it, and a supervisor recorded by one process is then taken for dead by the next. Elsewhere: psutil's
    create_time, which the system stores as it was at the start. psutil.NoSuchProcess once the process is gone."""
    return _stat(pid)[0]


def _stat(pid: int) -> tuple[float, bool]:
    """(start_time, whether it is a zombie), from one read of /proc/PID/stat where there is one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        raise psutil.NoSuchProcess(pid) from None
    except OSError:  # no /proc (macOS, BSD)
        process = psutil.Process(pid)
        return process.create_time(), process.status() == psutil.STATUS_ZOMBIE
    fields = stat[stat.rindex(b")") + 2:].split()  # the command name may hold spaces and parentheses
    return int(fields[19]) / CLOCK_TICKS, fields[0] == b"Z"  # fields 22 (starttime, in ticks) and 3 (state)


BACKOFF_RESET_SECONDS = 10.0
"""A process that stayed up (a replica: ready) this long starts its back-off from 0 again."""


def restart_delay(restarts_in_a_row: int, limit: float) -> float:
    """0 s for the first restart (heal at once), then 1, 2, 4... s up to limit."""
    return 0.0 if restarts_in_a_row <= 1 else min(limit, 2.0 ** (restarts_in_a_row - 2))


@dataclass
class ProcessHandle:
    pid: int
    create_time: float
    """start_time's (the records keep the name they had when it was psutil's create_time)."""
    popen: subprocess.Popen | None = None
    """Set for processes this supervisor started: it reaps them and knows their exit code."""

    @classmethod
    def spawn(cls, args: list[str], log_path: Path, env: dict[str, str]) -> ProcessHandle:
        """Start args in a session of its own (a signal to the supervisor does not reach it), output to log_path."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        try:
            started = start_time(popen.pid)
        except psutil.NoSuchProcess:
            started = 0.0
        return cls(popen.pid, started, popen)

    @classmethod
    def adopt(cls, pid: int | None, create_time: float, marker: str) -> ProcessHandle | None:
        """The process recorded as (pid, create_time) if it still runs and its command line holds marker.
        create_time is start_time's, or psutil's create_time where an earlier kanri recorded it."""
        if not pid:
            return None
        try:
            process, started = psutil.Process(pid), start_time(pid)
            if abs(started - create_time) > 0.05 and abs(process.create_time() - create_time) > 0.05:
                return None
            if process.status() == psutil.STATUS_ZOMBIE or marker not in " ".join(process.cmdline()):
                return None
        except psutil.Error:
            return None
        return cls(pid, started)

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            started, zombie = _stat(self.pid)
            return started == self.create_time and not zombie
        except psutil.Error:
            return False

    def exit_description(self) -> str:
        if self.popen is None or self.popen.returncode is None:
            return "exited"
        code = self.popen.returncode
        return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def cpu_seconds(self) -> float:
        """CPU time of the process and its children (a replica with --workers has several)."""
        process = psutil.Process(self.pid)
        total = 0.0
        for p in (process, *process.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total
