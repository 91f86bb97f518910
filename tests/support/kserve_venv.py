"""A virtual environment holding KServe's SDK, for tests.support.kserve_calls: made once, kept in the cache.

kserve pins protobuf below 7, which kanri's generated code refuses, so the two
cannot share an environment; the bench does the same for MLServer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KSERVE = "kserve==0.21.0"


def kserve_python() -> Path:
    """The venv's python; builds the venv on first use (about a minute, 450 MB). Raises RuntimeError if pip fails."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "kanri-tests" / KSERVE.replace("==", "-")
    python = venv / "bin" / "python"
    done = venv / ".installed"
    if done.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", KSERVE],
                             capture_output=True, text=True, timeout=900)
    if install.returncode != 0:
        raise RuntimeError(f"pip install {KSERVE} failed:\n{install.stderr[-2000:]}")
    done.touch()
    return python
