"""Detached child processes that outlive the supervisor, and finding them again after it restarts.

A pid alone is not an identity (pids are reused), so a handle also keeps the
process' start time and a marker its command line must contain.
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


BACKOFF_RESET_SECONDS = 10.0
"""A process that stayed up (a replica: ready) this long starts its back-off from 0 again."""


def restart_delay(restarts_in_a_row: int, limit: float) -> float:
    """0 s for the first restart (heal at once), then 1, 2, 4... s up to limit."""
    return 0.0 if restarts_in_a_row <= 1 else min(limit, 2.0 ** (restarts_in_a_row - 2))


@dataclass
class ProcessHandle:
    pid: int
    create_time: float
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
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.NoSuchProcess:
            create_time = 0.0
        return cls(popen.pid, create_time, popen)

    @classmethod
    def adopt(cls, pid: int | None, create_time: float, marker: str) -> ProcessHandle | None:
        """The process recorded as (pid, create_time) if it still runs and its command line holds marker."""
        if not pid:
            return None
        try:
            process = psutil.Process(pid)
            if abs(process.create_time() - create_time) > 0.05 or process.status() == psutil.STATUS_ZOMBIE:
                return None
            if marker not in " ".join(process.cmdline()):
                return None
        except psutil.Error:
            return None
        return cls(pid, create_time)

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            process = psutil.Process(self.pid)
            return process.create_time() == self.create_time and process.status() != psutil.STATUS_ZOMBIE
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
