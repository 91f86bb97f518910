"""A child process that ends when the process that started it dies, whatever killed it (SIGKILL included).

Linux delivers a chosen signal to a process whose parent dies (prctl
PR_SET_PDEATHSIG); the parent may already be gone by the time the child asks,
so the child then compares its parent with the one that started it. Without
this, `kanri serve --workers N` killed with SIGKILL left its workers serving the
old model on the port for hours, orphaned.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """Have `signum` delivered when the parent dies; end at once if `parent` is already gone."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)
