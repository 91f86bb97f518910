"""A real terminal for tests: a command in a tmux session of a given size, read with capture-pane and
driven with send-keys."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.prometheus import debian_binary


class Terminal:
    def __init__(self, tmux: str, session: str) -> None:
        self.tmux = tmux
        self.session = session

    def screen(self) -> str:
        return subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.session], capture_output=True,
                              text=True).stdout

    def pane_pid(self) -> int:
        """The process of the pane: the command itself when it was started with `exec`."""
        return int(subprocess.run([self.tmux, "display-message", "-p", "-t", self.session, "#{pane_pid}"],
                                  capture_output=True, text=True, check=True).stdout)

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([self.tmux, "send-keys", "-t", self.session, key], check=True)
            time.sleep(0.15)

    def text(self, text: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.session, "-l", text], check=True)
        time.sleep(0.2)

    def wait_for(self, needle: str, timeout: float = 60.0, gone: bool = False) -> str:
        """Until the needle shows (or, with `gone`, no longer shows); the screen then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if (needle in shown) != gone:
                return shown
            time.sleep(0.25)
        raise AssertionError(f"{needle!r} never {'went' if gone else 'appeared'}; the screen shows:\n{self.screen()}")

    def line_with(self, needle: str) -> str:
        return next((line for line in self.screen().splitlines() if needle in line), "")

    def escape_from(self, dialog: str, timeout: float = 20.0) -> None:
        """Escape, then wait until the dialog is gone: a key sent right after a lone ESC byte would arrive
        as alt+key on a busy machine."""
        self.keys("Escape")
        deadline = time.monotonic() + timeout
        while dialog in self.screen():
            assert time.monotonic() < deadline, f"{dialog!r} did not close:\n{self.screen()}"
            time.sleep(0.2)

    def running(self) -> bool:
        return subprocess.run([self.tmux, "has-session", "-t", self.session], capture_output=True).returncode == 0


@contextlib.contextmanager
def terminal(session: str, command: str, size: tuple[int, int], cwd: Path | None = None) -> Iterator[Terminal]:
    """command (a shell line) in a new tmux session of size (columns, rows), killed on exit."""
    tmux = debian_binary("tmux", "tmux")
    subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
                    *(["-c", str(cwd)] if cwd else []), command], check=True)
    try:
        yield Terminal(tmux, session)
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
